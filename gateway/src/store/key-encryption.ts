/**
 * Issuer secret keys at rest: sealed under the store's key-encryption key (KEK).
 *
 * The KEK is 32 bytes, written as 64 hex digits. openStore resolves it, first match wins:
 * 1. `openStore({ kek })`;
 * 2. `LATCHKIT_KEK` (64 hex digits);
 * 3. `LATCHKIT_KEK_FILE` (a file holding 64 hex digits; it must exist);
 * 4. `<state-dir>/kek`, if it exists (for `openStore({ file })`, `kek` beside that file).
 * A store is bound to its KEK by migration 9 (store_kek holds the KEK's id, never the key). A
 * bound store opened without its KEK fails with KEK_REQUIRED, with another one with
 * KEK_MISMATCH, before anything is written. A store not bound yet (new, or from before
 * migration 9) with no KEK configured gets one: `<state-dir>/kek` is created (mode 0600), and an
 * in-memory store (tests) uses one random KEK per process.
 *
 * Each issuer seed is sealed with XChaCha20-Poly1305 (@latchkit/protocol `seal`: random 24-byte
 * nonce, stored as `nonce || ciphertext || tag`, 72 bytes) under a subkey derived from the KEK,
 * with the property id, key id and public key as associated data: a sealed seed moved to another
 * row does not open. Readers see the plaintext through issuer_keys.secret_key, a virtual column
 * computed by a SQL function this module registers on each connection (so every query, whoever
 * wrote it, gets the seed and none ever gets the sealed bytes by mistake); the file holds only
 * the sealed bytes. A connection without the function (the sqlite3 shell) can read every other
 * column but not that one.
 */
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, encodeCbor, hkdfSha256, open, seal, toHex } from '@latchkit/protocol';
import type Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';

type Db = Database.Database;

export const KEK_ENV = 'LATCHKIT_KEK';
export const KEK_FILE_ENV = 'LATCHKIT_KEK_FILE';
export const KEK_FILE_NAME = 'kek';
export const KEK_BYTES = 32;
/** Length of a sealed issuer seed: nonce, 32-byte ciphertext, tag. */
export const SEALED_SECRET_BYTES = AEAD_NONCE_BYTES + 32 + AEAD_TAG_BYTES;
/** The SQL function behind issuer_keys.secret_key (migration 9). */
export const UNSEAL_FUNCTION = 'latchkit_issuer_secret';

/** Where a store's KEK came from; `created` means this open wrote the file. */
export type KekSource = 'option' | 'env' | 'env-file' | 'file' | 'created' | 'memory';

export interface Kek {
  key: Uint8Array;
  /** Public fingerprint (16 hex digits) stored in the store: which KEK it is bound to. */
  id: string;
  source: KekSource;
  /** The file it was read from or written to, if any. */
  file: string | null;
}

export function kekId(key: Uint8Array): string {
  return toHex(hkdfSha256(key, new Uint8Array(0), 'latchkit/v1/kek-id', 8));
}

export function makeKek(key: Uint8Array, source: KekSource, file: string | null = null): Kek {
  if (key.length !== KEK_BYTES) throw new GatewayError('KEK_INVALID', `a key-encryption key is ${KEK_BYTES} bytes, got ${key.length}`);
  return { key: Uint8Array.from(key), id: kekId(key), source, file };
}

/** 64 hex digits (surrounding white space ignored) as a KEK's 32 bytes; `what` names the source in the error. */
export function parseKekHex(text: string, what: string): Uint8Array {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new GatewayError('KEK_INVALID', `${what} must hold a key-encryption key of 64 hex digits (32 bytes); it holds ${hex.length === 0 ? 'nothing' : `${hex.length} characters that are not that`}`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function readKekFile(file: string, source: KekSource): Kek {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new GatewayError('KEK_REQUIRED', `cannot read the key-encryption key file ${file}: ${(e as Error).message}`);
  }
  return makeKek(parseKekHex(text, `the key-encryption key file ${file}`), source, file);
}

/** The default KEK file of a store: `<state-dir>/kek`, or `kek` beside an explicit database file. */
export function defaultKekFile(dbFile: string): string {
  return join(dirname(dbFile), KEK_FILE_NAME);
}

export interface KekLookup {
  /** Explicit key (bytes or 64 hex digits). */
  kek?: Uint8Array | string | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The database file, or null for an in-memory store. */
  dbFile: string | null;
}

/** The configured KEK (option, environment, default file), or null when none is configured. Creates nothing. */
export function findKek(o: KekLookup): Kek | null {
  if (o.kek !== undefined) return makeKek(typeof o.kek === 'string' ? parseKekHex(o.kek, 'the kek option') : o.kek, 'option');
  if (o.dbFile === null) return null;
  const fromEnv = o.env[KEK_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return makeKek(parseKekHex(fromEnv, KEK_ENV), 'env');
  const fileEnv = o.env[KEK_FILE_ENV];
  if (fileEnv !== undefined && fileEnv !== '') {
    const file = resolve(o.cwd, fileEnv);
    if (!existsSync(file)) throw new GatewayError('KEK_REQUIRED', `${KEK_FILE_ENV} names ${file}, which does not exist`);
    return readKekFile(file, 'env-file');
  }
  const file = defaultKekFile(o.dbFile);
  return existsSync(file) ? readKekFile(file, 'file') : null;
}

let processKek: Kek | null = null;
/** In-memory stores without an explicit KEK share one random key per process. */
export function memoryKek(): Kek {
  processKek ??= makeKek(randomBytes(KEK_BYTES), 'memory');
  return processKek;
}

/**
 * Creates `file` holding a new random KEK (mode 0600), durably (file and directory synced: the
 * store is bound to it right after). Atomic: written under a temporary name and linked into
 * place, so a concurrent opener sees no file or the whole key; if another process created it
 * first, that key is returned.
 */
export function createKekFile(file: string): Kek {
  const key = randomBytes(KEK_BYTES);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (e) {
    throw new GatewayError('KEK_REQUIRED', `no key-encryption key is configured (${KEK_ENV}, ${KEK_FILE_ENV}) and ${file} cannot be created: ${(e as Error).message}`);
  }
  try {
    writeSync(fd, `${Buffer.from(key).toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readKekFile(file, 'file');
    throw e;
  } finally {
    unlinkSync(tmp);
  }
  syncDirectory(dirname(file));
  return makeKek(key, 'created', file);
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not every platform can open or sync a directory (Windows); the file itself is synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// ---------------------------------------------------------------- the KEK of an open store

const keks = new WeakMap<Db, Kek>();

/** The KEK openStore attached to this connection, if any. */
export function storeKek(db: Db): Kek | undefined {
  return keks.get(db);
}

function requireKek(db: Db, what: string): Kek {
  const k = keks.get(db);
  if (!k) throw new GatewayError('KEK_REQUIRED', `${what} needs the store's key-encryption key; open the store with openStore`);
  return k;
}

const sealKey = (kek: Kek): Uint8Array => hkdfSha256(kek.key, new Uint8Array(0), 'latchkit/v1/issuer-key-seal', 32);
const subkeys = new WeakMap<Kek, Uint8Array>();
function subkey(kek: Kek): Uint8Array {
  let k = subkeys.get(kek);
  if (!k) subkeys.set(kek, (k = sealKey(kek)));
  return k;
}

/** What a sealed seed is bound to: its property, key id and public key. */
export interface IssuerKeyRef {
  propertyId: number;
  kid: string;
  publicKey: Uint8Array;
}

const aad = (r: IssuerKeyRef): Uint8Array => encodeCbor(['latchkit/v1/issuer-key', r.propertyId, r.kid, Uint8Array.from(r.publicKey)]);

/** The issuer seed sealed under the store's KEK (what issuer_keys.secret_sealed holds). */
export function sealIssuerSecret(db: Db, ref: IssuerKeyRef, secret: Uint8Array): Buffer {
  const kek = requireKek(db, 'storing an issuer key');
  return Buffer.from(seal(subkey(kek), secret, aad(ref), randomBytes(AEAD_NONCE_BYTES)));
}

export function openIssuerSecret(kek: Kek, ref: IssuerKeyRef, sealed: Uint8Array): Uint8Array {
  try {
    return open(subkey(kek), sealed, aad(ref));
  } catch {
    throw new GatewayError('KEK_MISMATCH', `issuer key ${ref.kid} of property ${ref.propertyId} does not open under the store's key-encryption key (id ${kek.id}): the row was altered, or sealed under another key`);
  }
}

/**
 * Attaches the KEK to the connection and registers the SQL function that unseals
 * issuer_keys.secret_key. Called by openStore before any migration runs.
 */
export function attachKek(db: Db, kek: Kek): void {
  keks.set(db, kek);
  db.function(UNSEAL_FUNCTION, { deterministic: true }, (propertyId: unknown, kid: unknown, publicKey: unknown, sealed: unknown) => {
    if (sealed === null) return null;
    if (!(sealed instanceof Uint8Array) || !(publicKey instanceof Uint8Array) || typeof kid !== 'string' || (typeof propertyId !== 'number' && typeof propertyId !== 'bigint')) {
      throw new GatewayError('INTERNAL', `${UNSEAL_FUNCTION}: unexpected arguments`);
    }
    return Buffer.from(openIssuerSecret(kek, { propertyId: Number(propertyId), kid, publicKey }, sealed));
  });
}

/** The KEK id the store is bound to, or null if it is not bound (no store_kek table or row yet). */
export function boundKekId(db: Db): string | null {
  const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'store_kek'").get();
  if (!table) return null;
  const row = db.prepare('SELECT kek_id AS id FROM store_kek WHERE id = 1').get() as { id: string } | undefined;
  return row?.id ?? null;
}

/** Fails unless `kek` is the one the store is bound to (or it is not bound yet). Reads only. */
export function checkKek(db: Db, kek: Kek | null, where: string): void {
  const bound = boundKekId(db);
  if (bound === null) return;
  const how = `set ${KEK_ENV} (64 hex digits) or ${KEK_FILE_ENV}, or put the key file at ${where}`;
  if (kek === null) throw new GatewayError('KEK_REQUIRED', `this store's issuer keys are encrypted with key-encryption key ${bound}, and none was given: ${how}`, { kekId: bound });
  if (kek.id !== bound) {
    const from = kek.file ? ` (from ${kek.file})` : kek.source === 'env' ? ` (from ${KEK_ENV})` : '';
    throw new GatewayError('KEK_MISMATCH', `this store's issuer keys are encrypted with key-encryption key ${bound}; the key given${from} is ${kek.id}. Nothing was changed`, { kekId: bound, given: kek.id });
  }
}

/** Binds the store to the connection's KEK (migration 9). */
export function bindKek(db: Db, at: number): void {
  const kek = requireKek(db, 'binding the store to a key-encryption key');
  db.prepare('INSERT INTO store_kek (id, kek_id, bound_at) VALUES (1, ?, ?)').run(kek.id, at);
}
