import type { Db } from './db.js';
import { bindKek, SEALED_SECRET_BYTES, sealIssuerSecret, UNSEAL_FUNCTION } from './key-encryption.js';

/**
 * Migration 9: issuer secret keys are encrypted at rest under the store's key-encryption key
 * (KEK; store/key-encryption.ts), and the store is bound to that KEK.
 *
 * - issuer_keys is rebuilt: `secret_key` (the Ed25519 seed in the clear) becomes
 *   `secret_sealed` (XChaCha20-Poly1305, `nonce || ciphertext || tag`, the property id, key id and
 *   public key as associated data), and `secret_key` a virtual generated column that unseals it
 *   on read through the connection's SQL function. Every existing seed is sealed here, in the
 *   migration's transaction, with the KEK openStore resolved (or created) for this open; none is
 *   ever left in the clear, so there is no plaintext mode to fall back to.
 * - store_kek: one row with the KEK's id (a fingerprint, not the key): a later open with
 *   another key, or none, fails before it writes anything (KEK_MISMATCH / KEK_REQUIRED).
 * - The old rows are overwritten, not only unlinked: secure_delete is on for the rebuild, so the
 *   freed pages are zeroed, and openStore truncates the WAL after it (a backup taken before this
 *   migration still holds the seeds in the clear).
 */
export const SEALED_ISSUER_KEYS_VERSION = 9;

const KNOWN_COLUMNS = ['id', 'property_id', 'kid', 'algorithm', 'public_key', 'secret_key', 'status', 'created_at', 'activated_at', 'retired_at'];

export function sealIssuerKeys(db: Db, now: number = Date.now()): void {
  const columns = (db.pragma('table_xinfo(issuer_keys)') as { name: string }[]).map((c) => c.name);
  if (columns.join() !== KNOWN_COLUMNS.join()) {
    throw new Error(`issuer_keys has columns [${columns.join(', ')}]; this migration rebuilds [${KNOWN_COLUMNS.join(', ')}] and would lose the others`);
  }
  const secureDelete = db.pragma('secure_delete', { simple: true }) as number;
  db.pragma('secure_delete = ON');
  try {
    db.exec(`
CREATE TABLE issuer_keys_v9 (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  kid TEXT NOT NULL CHECK (length(kid) BETWEEN 1 AND 64),
  algorithm TEXT NOT NULL DEFAULT 'Ed25519' CHECK (algorithm = 'Ed25519'),
  public_key BLOB NOT NULL CHECK (length(public_key) = 32),
  -- The Ed25519 seed sealed under the store's key-encryption key (gateway/src/store/key-encryption.ts).
  secret_sealed BLOB NOT NULL CHECK (length(secret_sealed) = ${SEALED_SECRET_BYTES}),
  -- The seed, unsealed on read by the connection's ${UNSEAL_FUNCTION}(); never stored.
  secret_key BLOB GENERATED ALWAYS AS (${UNSEAL_FUNCTION}(property_id, kid, public_key, secret_sealed)) VIRTUAL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'retired')),
  created_at INTEGER NOT NULL,
  activated_at INTEGER,
  retired_at INTEGER,
  UNIQUE (property_id, kid)
);

CREATE TABLE store_kek (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  -- Fingerprint of the key-encryption key the issuer keys are sealed under (16 hex digits).
  kek_id TEXT NOT NULL CHECK (length(kek_id) = 16 AND kek_id NOT GLOB '*[^0-9a-f]*'),
  bound_at INTEGER NOT NULL
);`);
    const rows = db.prepare('SELECT id, property_id AS propertyId, kid, algorithm, public_key AS publicKey, secret_key AS secretKey, status, created_at AS createdAt, activated_at AS activatedAt, retired_at AS retiredAt FROM issuer_keys ORDER BY id').all() as {
      id: number;
      propertyId: number;
      kid: string;
      algorithm: string;
      publicKey: Buffer;
      secretKey: Buffer;
      status: string;
      createdAt: number;
      activatedAt: number | null;
      retiredAt: number | null;
    }[];
    const insert = db.prepare(
      'INSERT INTO issuer_keys_v9 (id, property_id, kid, algorithm, public_key, secret_sealed, status, created_at, activated_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const r of rows) {
      const sealed = sealIssuerSecret(db, { propertyId: r.propertyId, kid: r.kid, publicKey: r.publicKey }, r.secretKey);
      insert.run(r.id, r.propertyId, r.kid, r.algorithm, r.publicKey, sealed, r.status, r.createdAt, r.activatedAt, r.retiredAt);
      r.secretKey.fill(0);
    }
    db.exec(`
DROP TABLE issuer_keys;
ALTER TABLE issuer_keys_v9 RENAME TO issuer_keys;
CREATE UNIQUE INDEX issuer_keys_one_active ON issuer_keys(property_id) WHERE status = 'active';`);
    bindKek(db, now);
  } finally {
    db.pragma(`secure_delete = ${secureDelete}`);
  }
}
