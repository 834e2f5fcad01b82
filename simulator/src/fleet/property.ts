/**
 * The property description a fleet is started from (a JSON file now; the gateway passes the same
 * shape as an object later). Schema: simulator/LOCK.md, "Property description". Every problem is
 * a BAD_PROPERTY_FILE error naming the JSON path, what was expected and what was found.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, basename } from 'node:path';
import type { CredentialSpec, WeeklySchedule } from '@latchkit/protocol';
import { fromHex } from '@latchkit/protocol';
import { SimulatorError } from '../errors.js';
import { DEVICE_PROFILES, type DeviceProfileName } from '../lock/profiles.js';

export interface CredentialEntry {
  holder: number;
  doorcode?: string;
  daily?: boolean;
  /** Card UID, 4..10 bytes as hex. */
  keycardUid?: string;
  /** Phone Ed25519 public key, 32 bytes as hex. */
  phonePublicKey?: string;
  /** ISO 8601 time (minute precision is used), or null/absent for open. */
  start?: string | null;
  end?: string | null;
  schedule?: { days: string | number; from: string; to: string } | null;
}

export interface LockEntry {
  /** 8-byte lock id as 16 hex digits. */
  id: string;
  name?: string;
  device?: DeviceProfileName;
  driftPpm?: number;
  /** Largest ATT MTU the lock accepts (default 247). */
  mtu?: number;
  credentials?: CredentialEntry[];
}

export interface PropertyDescription {
  version: 1;
  name: string;
  /** Where lock directories live; relative paths are relative to the description file. */
  stateDir?: string;
  radio?: 'virtual' | 'hci';
  /** Seed of the virtual radio (advertising phases, faults). */
  seed?: number;
  /** Property local time, minutes east of UTC (-1080..1080). */
  utcOffset?: number;
  /**
   * When present, the fleet acts as the property's backend at start: it commissions fresh locks
   * and installs the listed credentials as a signed full set (until the gateway does this).
   */
  backend?: { issuerSeed: string; contentKeySeed?: string; dailySecret?: string; cardMaster?: string };
  defaults?: { device?: DeviceProfileName; driftPpm?: number; mtu?: number };
  /** Credentials every lock enforces (a lobby's residents), in addition to each lock's own. */
  credentials?: CredentialEntry[];
  locks?: LockEntry[];
  /** `count` more locks with ids `idPrefix` followed by a counter (ids 1, 2, …). */
  generate?: { count: number; idPrefix?: string; device?: DeviceProfileName; namePrefix?: string };
}

/** A validated description with every lock listed and paths resolved. */
export interface ResolvedProperty {
  name: string;
  stateDir: string;
  radio: 'virtual' | 'hci';
  seed: number;
  utcOffset: number;
  backend: { issuerSeed: Uint8Array; contentKeySeed: Uint8Array; dailySecret: Uint8Array | null; cardMaster: Uint8Array | null } | null;
  locks: Array<{ id: Uint8Array; idHex: string; name: string; device: DeviceProfileName; driftPpm: number; mtu: number; credentials: CredentialSpec[] }>;
}

function bad(path: string, expected: string, got: unknown): SimulatorError {
  let shown: string;
  if (got === undefined) shown = 'nothing';
  else if (typeof got === 'string') shown = JSON.stringify(got.length > 40 ? `${got.slice(0, 40)}…` : got);
  else if (Array.isArray(got)) shown = 'an array';
  else if (got !== null && typeof got === 'object') shown = 'an object';
  else shown = String(got);
  return new SimulatorError('BAD_PROPERTY_FILE', `${path}: expected ${expected}, got ${shown}`, { details: { path } });
}

const HEX = (n: number | [number, number]) => (typeof n === 'number' ? new RegExp(`^[0-9a-fA-F]{${2 * n}}$`) : new RegExp(`^([0-9a-fA-F]{2}){${n[0]},${n[1]}}$`));
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function hex(v: unknown, path: string, n: number | [number, number]): Uint8Array {
  if (typeof v !== 'string' || !HEX(n).test(v)) throw bad(path, typeof n === 'number' ? `${n} bytes as hex` : `${n[0]}..${n[1]} bytes as hex`, v);
  return fromHex(v.toLowerCase());
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(path, `an integer in ${min}..${max}`, v);
  return v;
}

function device(v: unknown, path: string): DeviceProfileName {
  if (typeof v !== 'string' || !(v in DEVICE_PROFILES)) throw bad(path, `one of ${Object.keys(DEVICE_PROFILES).join(', ')}`, v);
  return v as DeviceProfileName;
}

function minutes(v: unknown, path: string): number | null {
  if (v === undefined || v === null) return null;
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw bad(path, 'an ISO 8601 time such as "2026-11-01T00:00:00Z", or null', v);
  return Math.floor(ms / 60_000);
}

function timeOfDay(v: unknown, path: string): number {
  const m = typeof v === 'string' ? /^(\d{2}):(\d{2})$/.exec(v) : null;
  const value = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  if (!m || !(value >= 0 && value <= 1440)) throw bad(path, '"HH:MM" between 00:00 and 24:00', v);
  return value;
}

function days(v: unknown, path: string): number {
  if (typeof v === 'number') return int(v, path, 1, 127);
  if (typeof v !== 'string') throw bad(path, 'a weekday bitmask (1..127) or names like "mon-fri" or "sat,sun"', v);
  let mask = 0;
  for (const part of v.toLowerCase().split(',').map((p) => p.trim())) {
    const range = part.split('-');
    const a = DAY_NAMES.indexOf(range[0]!);
    const b = DAY_NAMES.indexOf(range[1] ?? range[0]!);
    if (a < 0 || b < 0 || b < a || range.length > 2) throw bad(path, 'weekday names mon..sun, as "mon-fri" or "sat,sun"', v);
    for (let d = a; d <= b; d++) mask |= 1 << d;
  }
  return mask;
}

function object(v: unknown, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(path, 'an object', v);
  return v as Record<string, unknown>;
}

function only(o: Record<string, unknown>, path: string, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${path}.${k}`, `no such field (allowed: ${keys.join(', ')})`, o[k]);
}

function credentials(v: unknown, path: string): CredentialSpec[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(path, 'an array of credential entries', v);
  const out: CredentialSpec[] = [];
  v.forEach((raw, i) => {
    const p = `${path}[${i}]`;
    const c = object(raw, p);
    only(c, p, ['holder', 'doorcode', 'daily', 'keycardUid', 'phonePublicKey', 'start', 'end', 'schedule']);
    const holder = int(c['holder'], `${p}.holder`, 1, 0xffff_ffff);
    const start = minutes(c['start'], `${p}.start`);
    const end = minutes(c['end'], `${p}.end`);
    if (start !== null && end !== null && start >= end) throw bad(`${p}.end`, `a time after start (${String(c['start'])})`, c['end']);
    let schedule: WeeklySchedule | null = null;
    if (c['schedule'] !== undefined && c['schedule'] !== null) {
      const s = object(c['schedule'], `${p}.schedule`);
      only(s, `${p}.schedule`, ['days', 'from', 'to']);
      schedule = { days: days(s['days'], `${p}.schedule.days`), from: timeOfDay(s['from'], `${p}.schedule.from`), to: timeOfDay(s['to'], `${p}.schedule.to`) };
      if (schedule.from >= schedule.to) throw bad(`${p}.schedule.to`, `a time after from (${String(s['from'])}); split a schedule over midnight in two`, s['to']);
    }
    const common = { holder, start, end, schedule };
    let any = false;
    if (c['doorcode'] !== undefined) {
      if (typeof c['doorcode'] !== 'string' || !/^[0-9]{4,12}$/.test(c['doorcode'])) throw bad(`${p}.doorcode`, '4 to 12 digits as a string', c['doorcode']);
      out.push({ ...common, kind: 'doorcode', code: c['doorcode'] });
      any = true;
    }
    if (c['daily'] !== undefined) {
      if (typeof c['daily'] !== 'boolean') throw bad(`${p}.daily`, 'true or false', c['daily']);
      if (c['daily']) {
        out.push({ ...common, kind: 'daily' });
        any = true;
      }
    }
    if (c['keycardUid'] !== undefined) {
      out.push({ ...common, kind: 'keycard', uid: hex(c['keycardUid'], `${p}.keycardUid`, [4, 10]) });
      any = true;
    }
    if (c['phonePublicKey'] !== undefined) {
      out.push({ ...common, kind: 'phone', publicKey: hex(c['phonePublicKey'], `${p}.phonePublicKey`, 32) });
      any = true;
    }
    if (!any) throw bad(p, 'at least one of doorcode, daily: true, keycardUid, phonePublicKey', raw);
  });
  return out;
}

/** Validate a description (object form). `baseDir` resolves a relative stateDir. */
export function resolveProperty(input: unknown, baseDir = process.cwd(), fileName = 'property'): ResolvedProperty {
  const d = object(input, '$');
  only(d, '$', ['version', 'name', 'stateDir', 'radio', 'seed', 'utcOffset', 'backend', 'defaults', 'credentials', 'locks', 'generate', '$schema', 'description']);
  if (d['version'] !== 1) throw bad('$.version', '1', d['version']);
  if (typeof d['name'] !== 'string' || d['name'].length === 0) throw bad('$.name', 'a non-empty string', d['name']);
  const name = d['name'];
  const radio = d['radio'] ?? 'virtual';
  if (radio !== 'virtual' && radio !== 'hci') throw bad('$.radio', '"virtual" or "hci"', radio);
  const seed = d['seed'] === undefined ? 1 : int(d['seed'], '$.seed', 0, 0xffff_ffff);
  const utcOffset = d['utcOffset'] === undefined ? 0 : int(d['utcOffset'], '$.utcOffset', -1080, 1080);
  if (d['stateDir'] !== undefined && (typeof d['stateDir'] !== 'string' || d['stateDir'].length === 0)) throw bad('$.stateDir', 'a directory path', d['stateDir']);
  const stateDirRaw = (d['stateDir'] as string | undefined) ?? `${fileName.replace(/\.json$/i, '')}.state`;
  const stateDir = isAbsolute(stateDirRaw) ? stateDirRaw : join(baseDir, stateDirRaw);

  let backend: ResolvedProperty['backend'] = null;
  if (d['backend'] !== undefined) {
    const b = object(d['backend'], '$.backend');
    only(b, '$.backend', ['issuerSeed', 'contentKeySeed', 'dailySecret', 'cardMaster']);
    const issuerSeed = hex(b['issuerSeed'], '$.backend.issuerSeed', 32);
    backend = {
      issuerSeed,
      contentKeySeed: b['contentKeySeed'] === undefined ? issuerSeed : hex(b['contentKeySeed'], '$.backend.contentKeySeed', 32),
      dailySecret: b['dailySecret'] === undefined ? null : hex(b['dailySecret'], '$.backend.dailySecret', 32),
      cardMaster: b['cardMaster'] === undefined ? null : hex(b['cardMaster'], '$.backend.cardMaster', 32),
    };
  }
  const defaults = d['defaults'] === undefined ? {} : object(d['defaults'], '$.defaults');
  only(defaults, '$.defaults', ['device', 'driftPpm', 'mtu']);
  const defDevice = defaults['device'] === undefined ? 'standard' : device(defaults['device'], '$.defaults.device');
  const defDrift = defaults['driftPpm'] === undefined ? 0 : drift(defaults['driftPpm'], '$.defaults.driftPpm');
  const defMtu = defaults['mtu'] === undefined ? 247 : int(defaults['mtu'], '$.defaults.mtu', 23, 517);
  const shared = credentials(d['credentials'], '$.credentials');

  const locks: ResolvedProperty['locks'] = [];
  const seen = new Set<string>();
  const add = (id: Uint8Array, path: string, lockName: string, dev: DeviceProfileName, driftPpm: number, mtu: number, own: CredentialSpec[]): void => {
    const idHex = Buffer.from(id).toString('hex');
    if (seen.has(idHex)) throw bad(path, 'a lock id not used by another lock', idHex);
    seen.add(idHex);
    locks.push({ id, idHex, name: lockName, device: dev, driftPpm, mtu, credentials: [...shared, ...own] });
  };
  if (d['locks'] !== undefined) {
    if (!Array.isArray(d['locks'])) throw bad('$.locks', 'an array of locks', d['locks']);
    d['locks'].forEach((raw, i) => {
      const p = `$.locks[${i}]`;
      const l = object(raw, p);
      only(l, p, ['id', 'name', 'device', 'driftPpm', 'mtu', 'credentials']);
      const id = hex(l['id'], `${p}.id`, 8);
      if (l['name'] !== undefined && typeof l['name'] !== 'string') throw bad(`${p}.name`, 'a string', l['name']);
      add(
        id,
        `${p}.id`,
        (l['name'] as string | undefined) ?? `lock ${i + 1}`,
        l['device'] === undefined ? defDevice : device(l['device'], `${p}.device`),
        l['driftPpm'] === undefined ? defDrift : drift(l['driftPpm'], `${p}.driftPpm`),
        l['mtu'] === undefined ? defMtu : int(l['mtu'], `${p}.mtu`, 23, 517),
        credentials(l['credentials'], `${p}.credentials`),
      );
    });
  }
  if (d['generate'] !== undefined) {
    const g = object(d['generate'], '$.generate');
    only(g, '$.generate', ['count', 'idPrefix', 'device', 'namePrefix']);
    const count = int(g['count'], '$.generate.count', 1, 100_000);
    const prefix = g['idPrefix'] === undefined ? '4c4b' : g['idPrefix'];
    if (typeof prefix !== 'string' || !/^([0-9a-fA-F]{2}){1,6}$/.test(prefix)) throw bad('$.generate.idPrefix', '1..6 bytes as hex (the rest of the 8-byte id counts up)', prefix);
    const counterDigits = 16 - prefix.length;
    if (count >= 16 ** counterDigits) throw bad('$.generate.count', `fewer than ${16 ** counterDigits} locks for this prefix`, count);
    const dev = g['device'] === undefined ? defDevice : device(g['device'], '$.generate.device');
    const namePrefix = g['namePrefix'] === undefined ? 'door' : g['namePrefix'];
    if (typeof namePrefix !== 'string') throw bad('$.generate.namePrefix', 'a string', namePrefix);
    for (let i = 1; i <= count; i++) {
      add(fromHex(prefix.toLowerCase() + i.toString(16).padStart(counterDigits, '0')), '$.generate', `${namePrefix} ${i}`, dev, defDrift, defMtu, []);
    }
  }
  if (locks.length === 0) throw bad('$', 'at least one lock (in "locks" or "generate")', 'none');
  if ((shared.length > 0 || locks.some((l) => l.credentials.length > 0)) && backend === null) {
    throw bad('$.backend', 'a backend (issuerSeed) to sign the listed credentials', undefined);
  }
  return { name, stateDir, radio, seed, utcOffset, backend, locks };
}

function drift(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > 10_000) throw bad(path, 'a number of ppm in -10000..10000', v);
  return v;
}

/** Read and validate a property description file. */
export function loadPropertyFile(path: string): ResolvedProperty {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new SimulatorError('BAD_PROPERTY_FILE', `cannot read property description ${path}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SimulatorError('BAD_PROPERTY_FILE', `${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  try {
    return resolveProperty(json, dirname(path), basename(path));
  } catch (err) {
    if (err instanceof SimulatorError) throw new SimulatorError(err.code, `${path}: ${err.message}`, { cause: err, ...(err.details ? { details: { ...err.details } } : {}) });
    throw err;
  }
}
