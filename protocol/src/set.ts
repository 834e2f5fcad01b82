/**
 * The packed credential-set body (PROTOCOL.md §4): canonical, sorted, binary-searchable.
 *
 * A lock keeps these bytes in flash as they are and searches them in place; nothing is parsed
 * into per-entry objects on the hot path. Credentials point at holder rows (holder reference +
 * window), windows point at schedule rows, so a resident's phone, doorcode and card share one
 * 6-byte holder row and residents with the same window share one 9-byte window row. That
 * factoring, not the codec, is what brings a lobby door under 12 bytes per credential.
 *
 * Canonical form (one byte string per logical set) is what makes a delta-applied set and a
 * freshly compiled full set produce the same digest: every table is sorted and unique, and
 * no schedule, window or holder row exists unless something refers to it.
 */
import { ByteReader, compareBytes, equalBytes, toHex, U32_MAX, u32be } from './bytes.js';
import type { CryptoProvider } from './crypto.js';
import { getCryptoProvider } from './crypto.js';
import { fail } from './errors.js';
import type { DeltaChanges, RemovedKey } from './delta.js';
import type { CredentialKindName, Validity, WeeklySchedule } from './types.js';

export const SET_BODY_VERSION = 1;
export const SET_HEADER_BYTES = 16;
export const SECRETS_BYTES = 64;
/** Width in bytes of a credential's key in the set, per kind (PROTOCOL.md §4.3). */
export const KEY_BYTES: Readonly<Record<CredentialKindName, number>> = { doorcode: 5, daily: 4, keycard: 6, phone: 8 };
export const KIND_ORDER: readonly CredentialKindName[] = ['doorcode', 'daily', 'keycard', 'phone'];
const ROW_BYTES = { schedule: 5, window: 9, holder: 6 } as const;
const OPEN_END = U32_MAX;
/** A schedule row as one number whose order is the row's byte order (days, from, to). */
const SCHED_KEY = (days: number, from: number, to: number): number => days * 0x400000 + from * 0x800 + to;
const MAX_ROWS = 0xffff;
const MAX_SCHEDULES = 0xff;

/** Property-wide secrets the lock needs for daily codes and keycard key diversification. */
export interface SetSecrets {
  /** Derives each holder's daily doorcode (PROTOCOL.md §5.2). */
  daily: Uint8Array;
  /** Master key that keycard keys are diversified from (PROTOCOL.md §5.3). */
  cardMaster: Uint8Array;
}

/** A credential as the lock sees it: a keyed-hash key, the holder, and the validity. */
export interface Entry extends Validity {
  kind: CredentialKindName;
  /** `KEY_BYTES[kind]` bytes; for `daily` the holder reference, big-endian. */
  key: Uint8Array;
  holder: number;
}

export function entryId(kind: CredentialKindName, key: Uint8Array): string {
  return `${kind}:${toHex(key)}`;
}

function checkSchedule(s: WeeklySchedule, where: string): void {
  const ok =
    Number.isInteger(s.days) && s.days > 0 && s.days <= 0x7f &&
    Number.isInteger(s.from) && Number.isInteger(s.to) && s.from >= 0 && s.from < s.to && s.to <= 1440;
  if (!ok) fail('MALFORMED', `${where}: schedule needs days in 1..127 and 0 <= from < to <= 1440, got ${JSON.stringify(s)}`);
}

function checkWindow(start: number, end: number, where: string): void {
  if (start >= end) fail('MALFORMED', `${where}: window start ${start} is not before end ${end}`);
}

/** Validate an entry's shape (API edge: reports what was wrong, never guesses). */
export function checkEntry(e: Entry): void {
  const width = KEY_BYTES[e.kind];
  if (width === undefined) fail('INVALID_ARGUMENT', `entry kind: unknown kind ${JSON.stringify(e.kind)}`);
  if (!(e.key instanceof Uint8Array) || e.key.length !== width) {
    fail('INVALID_ARGUMENT', `${e.kind} entry key: expected ${width} bytes, got ${e.key instanceof Uint8Array ? e.key.length : typeof e.key}`);
  }
  if (!Number.isInteger(e.holder) || e.holder < 0 || e.holder > U32_MAX) {
    fail('INVALID_ARGUMENT', `entry holder: expected u32, got ${String(e.holder)}`);
  }
  // Compared in place: u32be allocates a writer, once per daily credential of every set.
  const h = e.holder;
  if (e.kind === 'daily' && (e.key[0] !== h >>> 24 || e.key[1] !== ((h >>> 16) & 0xff) || e.key[2] !== ((h >>> 8) & 0xff) || e.key[3] !== (h & 0xff))) {
    fail('INVALID_ARGUMENT', 'daily entry key must be the holder reference (big-endian u32)');
  }
  const start = e.start ?? 0;
  const end = e.end ?? OPEN_END;
  // Checked one by one (no tuple list): this runs once per credential of every compiled set.
  if (!Number.isInteger(start) || start < 0 || start > U32_MAX) fail('INVALID_ARGUMENT', `entry start: expected minutes in u32, got ${String(start)}`);
  if (!Number.isInteger(end) || end < 0 || end > U32_MAX) fail('INVALID_ARGUMENT', `entry end: expected minutes in u32, got ${String(end)}`);
  if (e.start !== null && e.start === 0) fail('INVALID_ARGUMENT', 'entry start: 0 is reserved for "open"; use null');
  if (e.end !== null && e.end === OPEN_END) fail('INVALID_ARGUMENT', `entry end: ${OPEN_END} is reserved for "open"; use null`);
  try {
    checkWindow(start, end, 'entry');
    if (e.schedule !== null) checkSchedule(e.schedule, 'entry');
  } catch (err) {
    fail('INVALID_ARGUMENT', (err as Error).message);
  }
}

/**
 * Allocate a body and write what packSet and patchSet lay out alike: the header, the secrets
 * and the schedule rows. Returns the buffer and the offset where the window rows start.
 */
function writeHead(schedKeys: readonly number[], windows: number, holders: number, kindCounts: readonly number[], secrets: SetSecrets | null): { out: Uint8Array; v: DataView; at: number } {
  let size = SET_HEADER_BYTES + (secrets ? SECRETS_BYTES : 0) + schedKeys.length * ROW_BYTES.schedule + windows * ROW_BYTES.window + holders * ROW_BYTES.holder;
  KIND_ORDER.forEach((kind, i) => (size += kindCounts[i]! * rowWidth(kind)));
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  out[at++] = SET_BODY_VERSION;
  out[at++] = secrets ? 1 : 0;
  for (const count of [schedKeys.length, windows, holders, ...kindCounts]) {
    v.setUint16(at, count);
    at += 2;
  }
  if (secrets) {
    out.set(secrets.daily, at);
    out.set(secrets.cardMaster, at + 32);
    at += SECRETS_BYTES;
  }
  for (const k of schedKeys) {
    out[at] = Math.floor(k / 0x400000);
    v.setUint16(at + 1, Math.floor(k / 0x800) % 0x800);
    v.setUint16(at + 3, k % 0x800);
    at += ROW_BYTES.schedule;
  }
  return { out, v, at };
}

/** Pack logical entries into the canonical body. Throws DUPLICATE_CREDENTIAL / CAPACITY_EXCEEDED. */
export function packSet(entries: readonly Entry[], secrets: SetSecrets | null): Uint8Array {
  for (const e of entries) checkEntry(e);
  if (secrets !== null && (secrets.daily.length !== 32 || secrets.cardMaster.length !== 32)) {
    fail('INVALID_ARGUMENT', 'secrets: daily and cardMaster must be 32 bytes each');
  }
  const n = entries.length;

  // Everything below sorts numbers, never byte strings or objects: compilers pack lobby doors
  // of 50,000 credentials, and comparator calls on Uint8Arrays and per-entry strings and maps
  // dominated a whole-property compile. Each numeric key orders exactly as the packed row's bytes.
  const schedKeyOf = (sc: WeeklySchedule) => SCHED_KEY(sc.days, sc.from, sc.to);
  const schedKeys = [...new Set(entries.filter((e) => e.schedule).map((e) => schedKeyOf(e.schedule!)))].sort((a, b) => a - b);
  if (schedKeys.length > MAX_SCHEDULES) fail('CAPACITY_EXCEEDED', `${schedKeys.length} distinct schedules; a set holds at most ${MAX_SCHEDULES}`);
  const schedIndex = new Map<number, number>(schedKeys.map((k, i) => [k, i + 1]));

  // Windows: distinct (start, end, schedule) triples, found through start -> (end, schedule);
  // a holder's credentials come in a row with one window, so the last one is checked first.
  const wStart: number[] = [];
  const wEnd: number[] = [];
  const wSched: number[] = [];
  const winOfEntry = new Int32Array(n);
  const byStart = new Map<number, Map<number, number>>();
  let lastStart = -1;
  let lastEnd = -1;
  let lastSched = -1;
  let lastId = -1;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const st = e.start ?? 0;
    const en = e.end ?? OPEN_END;
    const sc = e.schedule ? schedIndex.get(schedKeyOf(e.schedule))! : 0;
    if (st !== lastStart || en !== lastEnd || sc !== lastSched) {
      let m = byStart.get(st);
      if (!m) byStart.set(st, (m = new Map()));
      const k = en * 0x100 + sc;
      let id = m.get(k);
      if (id === undefined) {
        id = wStart.length;
        m.set(k, id);
        wStart.push(st);
        wEnd.push(en);
        wSched.push(sc);
      }
      lastStart = st;
      lastEnd = en;
      lastSched = sc;
      lastId = id;
    }
    winOfEntry[i] = lastId;
  }
  const windows = wStart.map((_, id) => id).sort((a, b) => wStart[a]! - wStart[b]! || wEnd[a]! - wEnd[b]! || wSched[a]! - wSched[b]!);
  if (windows.length > MAX_ROWS) fail('CAPACITY_EXCEEDED', `${windows.length} distinct windows; a set holds at most ${MAX_ROWS}`);
  const winRank = new Int32Array(windows.length);
  windows.forEach((id, rank) => (winRank[id] = rank));

  // Holder rows sort as (holder u32, window u16): holder * 2^16 + window stays below 2^53.
  const holdKeyOf = new Float64Array(n);
  for (let i = 0; i < n; i++) holdKeyOf[i] = entries[i]!.holder * 0x10000 + winRank[winOfEntry[i]!]!;
  const sortedHold = holdKeyOf.slice().sort();
  let h = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sortedHold[i] !== sortedHold[i - 1]) sortedHold[h++] = sortedHold[i]!;
  const holdKeys = sortedHold.subarray(0, h);
  if (holdKeys.length > MAX_ROWS) fail('CAPACITY_EXCEEDED', `${holdKeys.length} holder rows; a set holds at most ${MAX_ROWS}`);
  const holdRowOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = holdKeyOf[i]!;
    let lo = 0;
    let hi = holdKeys.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (holdKeys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    holdRowOf[i] = lo;
  }

  // Credential rows: entry indices per kind, sorted by key bytes (sortByKey: stable, so equal
  // keys stay in input order as with a comparator sort, and the same duplicate is reported).
  const kindRows = new Map<CredentialKindName, number[]>(KIND_ORDER.map((k) => [k, []]));
  for (let i = 0; i < n; i++) kindRows.get(entries[i]!.kind)!.push(i);
  const rowsByKind = new Map<CredentialKindName, Int32Array>();
  for (const kind of KIND_ORDER) {
    const list = kindRows.get(kind)!;
    if (list.length > MAX_ROWS) fail('CAPACITY_EXCEEDED', `${list.length} ${kind} credentials; a set holds at most ${MAX_ROWS} per kind`);
    const width = KEY_BYTES[kind];
    const rows = sortByKey(list, entries, width);
    for (let i = 1; i < rows.length; i++) {
      const a = entries[rows[i - 1]!]!.key;
      const b = entries[rows[i]!]!.key;
      let same = true;
      for (let j = 0; j < width && same; j++) same = a[j] === b[j];
      if (same) fail('DUPLICATE_CREDENTIAL', `two ${kind} credentials share key ${toHex(b)}`, { kind });
    }
    if (kind === 'daily') {
      // Daily rows are found by code, not key, so they sort by holder row (PROTOCOL.md §4.3);
      // distinct keys (holder references) mean distinct holder rows, so a slot per row sorts.
      const slot = new Int32Array(holdKeys.length).fill(-1);
      for (const i of rows) slot[holdRowOf[i]!] = i;
      let k = 0;
      for (const i of slot) if (i >= 0) rows[k++] = i;
    }
    rowsByKind.set(kind, rows);
  }

  const head = writeHead(schedKeys, windows.length, holdKeys.length, KIND_ORDER.map((k) => rowsByKind.get(k)!.length), secrets);
  const { out, v } = head;
  let at = head.at;
  for (const id of windows) {
    v.setUint32(at, wStart[id]!);
    v.setUint32(at + 4, wEnd[id]!);
    out[at + 8] = wSched[id]!;
    at += ROW_BYTES.window;
  }
  for (const k of holdKeys) {
    v.setUint32(at, Math.floor(k / 0x10000));
    v.setUint16(at + 4, k % 0x10000);
    at += ROW_BYTES.holder;
  }
  for (const kind of KIND_ORDER) {
    for (const i of rowsByKind.get(kind)!) {
      if (kind !== 'daily') {
        const key = entries[i]!.key;
        for (let j = 0; j < key.length; j++) out[at + j] = key[j]!;
        at += key.length;
      }
      const hr = holdRowOf[i]!;
      out[at] = hr >>> 8;
      out[at + 1] = hr & 0xff;
      at += 2;
    }
  }
  return out;
}

/**
 * Entry indices ordered by the first `width` bytes of their keys: an LSD radix sort, one
 * stable counting pass per byte, so the order is the bytes' lexicographic order and ties keep
 * input order. A comparator sort of 45,000 keys cost tens of milliseconds; this costs about one.
 */
function sortByKey(indices: readonly number[], entries: readonly Entry[], width: number): Int32Array {
  const n = indices.length;
  let src = Int32Array.from(indices);
  if (n < 2) return src;
  if (n <= 32) {
    return src.sort((a, b) => compareBytes(entries[a]!.key.subarray(0, width), entries[b]!.key.subarray(0, width)));
  }
  // Keys copied once into one flat array, addressed by an entry's position in `indices`.
  const keys = new Uint8Array(n * width);
  let maxIndex = 0;
  for (const i of indices) if (i > maxIndex) maxIndex = i;
  const pos = new Int32Array(maxIndex + 1);
  for (let r = 0; r < n; r++) {
    const i = indices[r]!;
    pos[i] = r;
    const key = entries[i]!.key;
    for (let j = 0; j < width; j++) keys[r * width + j] = key[j]!;
  }
  let dst = new Int32Array(n);
  const count = new Int32Array(257);
  for (let byte = width - 1; byte >= 0; byte--) {
    count.fill(0);
    for (let r = 0; r < n; r++) {
      const d = keys[pos[src[r]!]! * width + byte]! + 1;
      count[d] = count[d]! + 1;
    }
    for (let d = 0; d < 256; d++) count[d + 1] = count[d + 1]! + count[d]!;
    for (let r = 0; r < n; r++) {
      const i = src[r]!;
      const d = keys[pos[i]! * width + byte]!;
      const at = count[d]!;
      count[d] = at + 1;
      dst[at] = i;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/** Row width in the body per kind: key (daily rows have none) + u16 holder index. */
function rowWidth(kind: CredentialKindName): number {
  return kind === 'daily' ? 2 : KEY_BYTES[kind] + 2;
}

export interface HolderView extends Validity {
  holder: number;
}

/**
 * A parsed, validated set body. Lookups binary-search the original bytes, so a lock with
 * 50,000 credentials does ~16 comparisons per keypad entry and allocates nothing.
 */
export class CredentialSet {
  readonly counts: Readonly<Record<CredentialKindName, number>> & { schedules: number; windows: number; holders: number };
  readonly secrets: SetSecrets | null;
  private readonly view: DataView;
  private readonly off: { schedules: number; windows: number; holders: number } & Record<CredentialKindName, number>;

  private constructor(readonly body: Uint8Array, trusted = false) {
    const r = new ByteReader(body, 'set body');
    const version = r.u8();
    if (version !== SET_BODY_VERSION) fail('UNSUPPORTED_VERSION', `set body version ${version}, this implementation reads ${SET_BODY_VERSION}`);
    const flags = r.u8();
    if ((flags & ~1) !== 0) fail('MALFORMED', `set body flags 0x${flags.toString(16)} has reserved bits set`);
    const schedules = r.u16();
    const windows = r.u16();
    const holders = r.u16();
    const doorcode = r.u16();
    const daily = r.u16();
    const keycard = r.u16();
    const phone = r.u16();
    this.counts = { schedules, windows, holders, doorcode, daily, keycard, phone };
    this.secrets = flags & 1 ? { daily: r.take(32).slice(), cardMaster: r.take(32).slice() } : null;
    const off = { schedules: r.offset, windows: 0, holders: 0, doorcode: 0, daily: 0, keycard: 0, phone: 0 };
    r.take(schedules * ROW_BYTES.schedule);
    off.windows = r.offset;
    r.take(windows * ROW_BYTES.window);
    off.holders = r.offset;
    r.take(holders * ROW_BYTES.holder);
    for (const kind of KIND_ORDER) {
      off[kind] = r.offset;
      r.take(this.counts[kind] * rowWidth(kind));
    }
    r.end();
    this.off = off;
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (!trusted) this.validate();
  }

  /** Parse and validate a body; rejects anything that is not in canonical form. */
  static parse(body: Uint8Array): CredentialSet {
    return new CredentialSet(body);
  }

  /**
   * A body this process packed itself (packSet / patchSet output it stored): the layout is
   * still checked against the counts, but the canonical-form scan (a pass over every row, a
   * third of a millisecond per 10,000 credentials) is skipped. Never for bytes from a lock or
   * a phone; those go through `parse`.
   */
  static fromTrustedBody(body: Uint8Array): CredentialSet {
    return new CredentialSet(body, true);
  }

  static fromEntries(entries: readonly Entry[], secrets: SetSecrets | null): CredentialSet {
    return new CredentialSet(packSet(entries, secrets));
  }

  get size(): number {
    return this.counts.doorcode + this.counts.daily + this.counts.keycard + this.counts.phone;
  }

  digest(provider: CryptoProvider = getCryptoProvider()): Uint8Array {
    return provider.sha256(this.body);
  }

  private row(start: number, width: number, i: number): Uint8Array {
    return this.body.subarray(start + i * width, start + (i + 1) * width);
  }

  private validate(): void {
    const { schedules, windows, holders } = this.counts;
    const usedSched = new Uint8Array(schedules + 1);
    const usedWin = new Uint8Array(windows);
    const usedHold = new Uint8Array(holders);
    let prev: Uint8Array | null = null;
    for (let i = 0; i < schedules; i++) {
      const row = this.row(this.off.schedules, 5, i);
      checkSchedule({ days: row[0]!, from: this.view.getUint16(this.off.schedules + i * 5 + 1), to: this.view.getUint16(this.off.schedules + i * 5 + 3) }, `schedule row ${i}`);
      if (prev && compareBytes(prev, row) >= 0) fail('MALFORMED', `schedule rows not strictly ascending at ${i}`);
      prev = row;
    }
    prev = null;
    for (let i = 0; i < windows; i++) {
      const row = this.row(this.off.windows, 9, i);
      const at = this.off.windows + i * 9;
      checkWindow(this.view.getUint32(at), this.view.getUint32(at + 4), `window row ${i}`);
      const sched = row[8]!;
      if (sched > schedules) fail('MALFORMED', `window row ${i} refers to schedule ${sched} of ${schedules}`);
      usedSched[sched] = 1;
      if (prev && compareBytes(prev, row) >= 0) fail('MALFORMED', `window rows not strictly ascending at ${i}`);
      prev = row;
    }
    prev = null;
    for (let i = 0; i < holders; i++) {
      const row = this.row(this.off.holders, 6, i);
      const win = this.view.getUint16(this.off.holders + i * 6 + 4);
      if (win >= windows) fail('MALFORMED', `holder row ${i} refers to window ${win} of ${windows}`);
      usedWin[win] = 1;
      if (prev && compareBytes(prev, row) >= 0) fail('MALFORMED', `holder rows not strictly ascending at ${i}`);
      prev = row;
    }
    for (const kind of KIND_ORDER) {
      const width = rowWidth(kind);
      const keyWidth = width - 2;
      let prevKey: Uint8Array | null = null;
      let prevHolder = -1;
      const dailyRefs = new Set<number>();
      for (let i = 0; i < this.counts[kind]; i++) {
        const at = this.off[kind] + i * width;
        const holder = this.view.getUint16(at + keyWidth);
        if (holder >= holders) fail('MALFORMED', `${kind} row ${i} refers to holder ${holder} of ${holders}`);
        usedHold[holder] = 1;
        if (kind === 'daily') {
          if (holder <= prevHolder) fail('MALFORMED', `daily rows not strictly ascending at ${i}`);
          const ref = this.view.getUint32(this.off.holders + holder * 6);
          if (dailyRefs.has(ref)) fail('MALFORMED', `two daily rows for holder ${ref}`);
          dailyRefs.add(ref);
          prevHolder = holder;
        } else {
          const key = this.body.subarray(at, at + keyWidth);
          if (prevKey && compareBytes(prevKey, key) >= 0) fail('MALFORMED', `${kind} rows not strictly ascending at ${i}`);
          prevKey = key;
        }
      }
    }
    for (let i = 1; i <= schedules; i++) if (!usedSched[i]) fail('MALFORMED', `schedule row ${i - 1} is not referenced`);
    for (let i = 0; i < windows; i++) if (!usedWin[i]) fail('MALFORMED', `window row ${i} is not referenced`);
    for (let i = 0; i < holders; i++) if (!usedHold[i]) fail('MALFORMED', `holder row ${i} is not referenced`);
  }

  /** Holder and validity behind holder row `index`. */
  holderAt(index: number): HolderView {
    const at = this.off.holders + index * 6;
    const holder = this.view.getUint32(at);
    const w = this.off.windows + this.view.getUint16(at + 4) * 9;
    const start = this.view.getUint32(w);
    const end = this.view.getUint32(w + 4);
    const sched = this.body[w + 8]!;
    let schedule: WeeklySchedule | null = null;
    if (sched !== 0) {
      const s = this.off.schedules + (sched - 1) * 5;
      schedule = { days: this.body[s]!, from: this.view.getUint16(s + 1), to: this.view.getUint16(s + 3) };
    }
    return { holder, start: start === 0 ? null : start, end: end === OPEN_END ? null : end, schedule };
  }

  /** Binary search for a keyed-hash key; returns the holder row index or -1. */
  find(kind: Exclude<CredentialKindName, 'daily'>, key: Uint8Array): number {
    const row = this.rowIndex(kind, key);
    return row < 0 ? -1 : this.view.getUint16(this.off[kind] + row * rowWidth(kind) + KEY_BYTES[kind]);
  }

  /** Position of a credential in its kind's table, or -1 (daily: key = holder reference). */
  rowIndex(kind: CredentialKindName, key: Uint8Array): number {
    if (key.length !== KEY_BYTES[kind]) return -1;
    if (kind === 'daily') {
      const ref = new DataView(key.buffer, key.byteOffset, 4).getUint32(0);
      for (let i = 0; i < this.counts.daily; i++) {
        if (this.view.getUint32(this.off.holders + this.view.getUint16(this.off.daily + i * 2) * 6) === ref) return i;
      }
      return -1;
    }
    const width = rowWidth(kind);
    const keyWidth = width - 2;
    const base = this.off[kind];
    let lo = 0;
    let hi = this.counts[kind] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = base + mid * width;
      let cmp = 0;
      for (let i = 0; i < keyWidth && cmp === 0; i++) cmp = this.body[at + i]! - key[i]!;
      if (cmp === 0) return mid;
      if (cmp < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Holder row that row `row` of `kind`'s table points at. */
  holderRowOf(kind: CredentialKindName, row: number): number {
    const width = rowWidth(kind);
    return this.view.getUint16(this.off[kind] + row * width + width - 2);
  }

  /** Key of row `row` of `kind`'s table (daily: the holder reference, big-endian). */
  keyAt(kind: CredentialKindName, row: number): Uint8Array {
    if (kind === 'daily') return this.body.slice(this.off.holders + this.holderRowOf('daily', row) * 6, this.off.holders + this.holderRowOf('daily', row) * 6 + 4);
    const at = this.off[kind] + row * rowWidth(kind);
    return this.body.slice(at, at + KEY_BYTES[kind]);
  }

  /** The logical entry at row `row` of `kind`'s table (a delta's old version of an entry). */
  entryAt(kind: CredentialKindName, row: number): Entry {
    const h = this.holderAt(this.holderRowOf(kind, row));
    return { kind, key: this.keyAt(kind, row), holder: h.holder, start: h.start, end: h.end, schedule: h.schedule };
  }

  /** Holder row indices of the daily-code rows (the lock derives each holder's code per day). */
  dailyHolderRows(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.counts.daily; i++) out.push(this.view.getUint16(this.off.daily + i * 2));
    return out;
  }

  /**
   * Every credential as a logical entry (delta application, inspection), optionally skipping
   * rows. Keys are views into the body, which is never modified after parsing.
   */
  *entries(skip?: ReadonlyMap<CredentialKindName, ReadonlySet<number>>): IterableIterator<Entry> {
    const views = new Array<HolderView | undefined>(this.counts.holders);
    for (const kind of KIND_ORDER) {
      const width = rowWidth(kind);
      const skipRows = skip?.get(kind);
      for (let i = 0; i < this.counts[kind]; i++) {
        if (skipRows?.has(i)) continue;
        const at = this.off[kind] + i * width;
        const hi = this.view.getUint16(at + width - 2);
        const h = (views[hi] ??= this.holderAt(hi));
        const key = kind === 'daily' ? u32be(h.holder) : this.body.subarray(at, at + width - 2);
        yield { kind, key, holder: h.holder, start: h.start, end: h.end, schedule: h.schedule };
      }
    }
  }
}

/**
 * The base row before which a replacement row with `key` goes (rows are sorted by key). A base
 * row with the same key is a duplicate unless its holder is being replaced (it is dropped).
 */
function insertionRow(b: Uint8Array, off: number, n: number, width: number, keepHold: Uint8Array, key: Uint8Array, kind: CredentialKindName): number {
  const keyWidth = width - 2;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = off + mid * width;
    let cmp = 0;
    for (let j = 0; j < keyWidth && cmp === 0; j++) cmp = b[p + j]! - key[j]!;
    if (cmp < 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo < n) {
    const p = off + lo * width;
    let same = true;
    for (let j = 0; j < keyWidth && same; j++) same = b[p + j] === key[j];
    if (same && keepHold[(b[p + keyWidth]! << 8) | b[p + keyWidth + 1]!]) fail('DUPLICATE_CREDENTIAL', `two ${kind} credentials share key ${toHex(key)}`, { kind });
  }
  return lo;
}

/**
 * patchSet's writer for one kind: the base rows whose holder is kept (copied in runs, then
 * their holder index rewritten, since removed holder rows shift the rest) merged in key order
 * with the replacement rows (sorted, holder indices already final, each placed before base row
 * `insertAt[r]`). A top-level function with plain locals: as a closure over mutable captured
 * state this loop was several times slower.
 */
function writeMergedRows(
  b: Uint8Array,
  off: number,
  n: number,
  width: number,
  baseHoldMap: Int32Array,
  keepHold: Uint8Array,
  reps: readonly { key: Uint8Array; holder: number }[],
  insertAt: Int32Array,
  out: Uint8Array,
  at: number,
): number {
  const keyWidth = width - 2;
  let o = at;
  let r = 0;
  let nextRep = reps.length > 0 ? insertAt[0]! : n;
  let i = 0;
  for (;;) {
    while (r < reps.length && nextRep <= i) {
      const rep = reps[r++]!;
      out.set(rep.key, o);
      out[o + keyWidth] = rep.holder >>> 8;
      out[o + keyWidth + 1] = rep.holder & 0xff;
      o += width;
      nextRep = r < reps.length ? insertAt[r]! : n;
    }
    if (i >= n) break;
    const stop = Math.min(nextRep, n);
    // Dropped rows are skipped; a run of kept rows goes up to the next dropped row or the
    // next replacement's place.
    for (let q = off + i * width + keyWidth; i < stop && !keepHold[(b[q]! << 8) | b[q + 1]!]; i++, q += width);
    let j = i;
    for (let q = off + i * width + keyWidth; j < stop && keepHold[(b[q]! << 8) | b[q + 1]!]; j++, q += width);
    if (j > i) {
      out.set(b.subarray(off + i * width, off + j * width), o);
      for (let q = off + i * width + keyWidth, w = o + keyWidth; q < off + j * width; q += width, w += width) {
        const h = baseHoldMap[(b[q]! << 8) | b[q + 1]!]!;
        out[w] = h >>> 8;
        out[w + 1] = h & 0xff;
      }
      o += (j - i) * width;
      i = j;
    }
  }
  return o;
}

/**
 * What `packSet` returns for "the base's entries of every holder not in `holders`, plus
 * `replacement`", byte for byte, without unpacking the base into entries, and the delta
 * changes from the base to it (the same changes `diffEntries` finds, since the rows of the
 * other holders are untouched). This is the compiler's per-change path: one resident revoked
 * at a 45,000-credential lobby door re-hashes that resident's few credentials and streams
 * the rest of the base through, instead of re-deriving and re-sorting every credential.
 *
 * `holders` are holder references; `replacement` is the complete new entry list of those
 * holders (possibly empty). Throws like packSet (DUPLICATE_CREDENTIAL, CAPACITY_EXCEEDED,
 * INVALID_ARGUMENT).
 */
export function patchSet(base: CredentialSet, holders: ReadonlySet<number>, replacement: readonly Entry[], secrets: SetSecrets | null): { body: Uint8Array; changes: DeltaChanges } {
  for (const e of replacement) checkEntry(e);
  if (secrets !== null && (secrets.daily.length !== 32 || secrets.cardMaster.length !== 32)) {
    fail('INVALID_ARGUMENT', 'secrets: daily and cardMaster must be 32 bytes each');
  }
  const b = base.body;
  const bv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const c = base.counts;
  let at = SET_HEADER_BYTES + (base.secrets ? SECRETS_BYTES : 0);
  const offSched = at;
  at += c.schedules * ROW_BYTES.schedule;
  const offWin = at;
  at += c.windows * ROW_BYTES.window;
  const offHold = at;
  at += c.holders * ROW_BYTES.holder;
  const offKind = {} as Record<CredentialKindName, number>;
  for (const kind of KIND_ORDER) {
    offKind[kind] = at;
    at += c[kind] * rowWidth(kind);
  }

  // Which base holder rows survive, and so which windows and schedules are still referenced.
  const keepHold = new Uint8Array(c.holders);
  const usedWin = new Uint8Array(c.windows);
  // Holder rows are sorted by reference: walk them beside the sorted replaced references.
  const refs = [...holders].sort((x, y) => x - y);
  for (let h = 0, r = 0; h < c.holders; h++) {
    const ref = bv.getUint32(offHold + h * 6);
    while (r < refs.length && refs[r]! < ref) r++;
    if (r < refs.length && refs[r] === ref) continue;
    keepHold[h] = 1;
    usedWin[bv.getUint16(offHold + h * 6 + 4)] = 1;
  }
  const usedSched = new Uint8Array(c.schedules + 1);
  for (let w = 0; w < c.windows; w++) if (usedWin[w]) usedSched[b[offWin + w * 9 + 8]!] = 1;

  // Schedules: kept base rows ∪ the replacement's, sorted (numeric keys as in packSet).
  const baseSchedKey = new Array<number>(c.schedules + 1).fill(0);
  const schedSet = new Set<number>();
  for (let i = 1; i <= c.schedules; i++) {
    const o = offSched + (i - 1) * 5;
    baseSchedKey[i] = SCHED_KEY(b[o]!, bv.getUint16(o + 1), bv.getUint16(o + 3));
    if (usedSched[i]) schedSet.add(baseSchedKey[i]!);
  }
  for (const e of replacement) if (e.schedule) schedSet.add(SCHED_KEY(e.schedule.days, e.schedule.from, e.schedule.to));
  const schedKeys = [...schedSet].sort((x, y) => x - y);
  if (schedKeys.length > MAX_SCHEDULES) fail('CAPACITY_EXCEEDED', `${schedKeys.length} distinct schedules; a set holds at most ${MAX_SCHEDULES}`);
  const schedIndex = new Map<number, number>(schedKeys.map((k, i) => [k, i + 1]));

  // Windows: kept base rows (their schedule index remapped; the remap keeps their order) ∪ the
  // replacement's, sorted as (start, end, schedule).
  const winRows = new Map<string, [number, number, number]>();
  const baseWinKey = new Array<string>(c.windows);
  for (let w = 0; w < c.windows; w++) {
    if (!usedWin[w]) continue;
    const o = offWin + w * 9;
    const sched = b[o + 8]!;
    const row: [number, number, number] = [bv.getUint32(o), bv.getUint32(o + 4), sched === 0 ? 0 : schedIndex.get(baseSchedKey[sched]!)!];
    const k = `${row[0]}:${row[1]}:${row[2]}`;
    baseWinKey[w] = k;
    winRows.set(k, row);
  }
  const repWinKey = new Array<string>(replacement.length);
  replacement.forEach((e, i) => {
    const row: [number, number, number] = [e.start ?? 0, e.end ?? OPEN_END, e.schedule ? schedIndex.get(SCHED_KEY(e.schedule.days, e.schedule.from, e.schedule.to))! : 0];
    const k = `${row[0]}:${row[1]}:${row[2]}`;
    repWinKey[i] = k;
    if (!winRows.has(k)) winRows.set(k, row);
  });
  const windows = [...winRows.entries()].sort(([, x], [, y]) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  if (windows.length > MAX_ROWS) fail('CAPACITY_EXCEEDED', `${windows.length} distinct windows; a set holds at most ${MAX_ROWS}`);
  const winIndex = new Map<string, number>(windows.map(([k], i) => [k, i]));
  const baseWinMap = new Int32Array(c.windows).fill(-1);
  for (let w = 0; w < c.windows; w++) if (usedWin[w]) baseWinMap[w] = winIndex.get(baseWinKey[w]!)!;

  // Holder rows: the kept base rows stay sorted (same holder, monotone window remap); merge
  // the replacement's (holder * 2^16 + window, as in packSet) into them. Integer arrays and one
  // flat loop: this runs over every holder of a big door for every patch.
  const repHoldKeyOf = new Float64Array(replacement.length);
  for (let i = 0; i < replacement.length; i++) repHoldKeyOf[i] = replacement[i]!.holder * 0x10000 + winIndex.get(repWinKey[i]!)!;
  const repHoldKeys = [...new Set(repHoldKeyOf)].sort((x, y) => x - y);
  const baseHoldMap = new Int32Array(c.holders).fill(-1);
  const repHoldIndex = new Map<number, number>();
  const holdRef = new Uint32Array(c.holders + repHoldKeys.length);
  const holdWin = new Uint16Array(c.holders + repHoldKeys.length);
  let holdCount = 0;
  for (let h = 0, r = 0; ; ) {
    while (h < c.holders && !keepHold[h]) h++;
    const baseLeft = h < c.holders;
    const repLeft = r < repHoldKeys.length;
    if (!baseLeft && !repLeft) break;
    const bRef = baseLeft ? bv.getUint32(offHold + h * 6) : 0;
    const bWin = baseLeft ? baseWinMap[bv.getUint16(offHold + h * 6 + 4)]! : 0;
    const rk = repLeft ? repHoldKeys[r]! : 0;
    const rRef = Math.floor(rk / 0x10000);
    const rWin = rk % 0x10000;
    const cmp = !repLeft ? -1 : !baseLeft ? 1 : bRef - rRef || bWin - rWin;
    if (cmp <= 0) {
      holdRef[holdCount] = bRef;
      holdWin[holdCount] = bWin;
      baseHoldMap[h++] = holdCount;
    } else {
      holdRef[holdCount] = rRef;
      holdWin[holdCount] = rWin;
    }
    if (cmp >= 0) {
      repHoldIndex.set(rk, holdCount);
      r++;
    }
    holdCount++;
  }
  if (holdCount > MAX_ROWS) fail('CAPACITY_EXCEEDED', `${holdCount} holder rows; a set holds at most ${MAX_ROWS}`);

  // Credential rows per kind: the kept base rows in key order, merged with the replacement's.
  const repByKind = new Map<CredentialKindName, { key: Uint8Array; holder: number; e: Entry }[]>(KIND_ORDER.map((k) => [k, []]));
  for (let i = 0; i < replacement.length; i++) {
    const e = replacement[i]!;
    repByKind.get(e.kind)!.push({ key: e.key, holder: repHoldIndex.get(repHoldKeyOf[i]!)!, e });
  }
  // Base rows of the replaced holders, by entry id: to tell removed from unchanged from changed.
  const dropped = new Map<string, { kind: CredentialKindName; row: number; holderRow: number }>();
  const outRows = new Map<CredentialKindName, { count: number; write: (out: Uint8Array, v: DataView, at: number) => number }>();
  // Per kind, in packSet's order of checks (the row count, then duplicate keys), so both report
  // the same error for the same logical input (test/protocol/patch-fuzz.test.ts).
  for (const kind of KIND_ORDER) {
    const reps = repByKind.get(kind)!;
    const width = rowWidth(kind);
    const keyWidth = width - 2;
    const off = offKind[kind];
    const n = c[kind];
    let kept = 0;
    for (let i = 0, q = off + keyWidth; i < n; i++, q += width) {
      const hr = kind === 'daily' ? bv.getUint16(off + i * 2) : (b[q]! << 8) | b[q + 1]!;
      if (keepHold[hr]) kept++;
      else if (kind !== 'daily') dropped.set(entryId(kind, b.subarray(off + i * width, off + i * width + keyWidth)), { kind, row: i, holderRow: hr });
    }
    const count = kept + reps.length;
    if (count > MAX_ROWS) fail('CAPACITY_EXCEEDED', `${count} ${kind} credentials; a set holds at most ${MAX_ROWS} per kind`);
    if (kind === 'daily') {
      // Daily rows have no key on the wire; their key is the holder reference, one per holder.
      const refs = new Set<number>();
      for (const r of reps) {
        if (refs.has(r.e.holder)) fail('DUPLICATE_CREDENTIAL', `two daily credentials share key ${toHex(r.key)}`, { kind });
        refs.add(r.e.holder);
      }
      const merged: number[] = [];
      for (let i = 0; i < n; i++) {
        const hr = bv.getUint16(off + i * 2);
        if (!keepHold[hr]) {
          dropped.set(entryId('daily', u32be(bv.getUint32(offHold + hr * 6))), { kind, row: i, holderRow: hr });
          continue;
        }
        if (refs.has(bv.getUint32(offHold + hr * 6))) fail('DUPLICATE_CREDENTIAL', `two daily credentials share key ${toHex(u32be(bv.getUint32(offHold + hr * 6)))}`, { kind });
        merged.push(baseHoldMap[hr]!);
      }
      for (const r of reps) merged.push(r.holder);
      merged.sort((x, y) => x - y);
      outRows.set(kind, {
        count: merged.length,
        write: (_out, v, at0) => {
          let o = at0;
          for (const hr of merged) {
            v.setUint16(o, hr);
            o += 2;
          }
          return o;
        },
      });
      continue;
    }
    reps.sort((x, y) => compareBytes(x.key, y.key));
    for (let i = 1; i < reps.length; i++) {
      if (compareBytes(reps[i - 1]!.key, reps[i]!.key) === 0) fail('DUPLICATE_CREDENTIAL', `two ${kind} credentials share key ${toHex(reps[i]!.key)}`, { kind });
    }
    // Where each replacement row goes among the base rows (also the check against kept keys);
    // the merge itself happens while writing.
    const insertAt = new Int32Array(reps.length);
    for (let r = 0; r < reps.length; r++) insertAt[r] = insertionRow(b, off, n, width, keepHold, reps[r]!.key, kind);
    outRows.set(kind, { count, write: (out, _v, at0) => writeMergedRows(b, off, n, width, baseHoldMap, keepHold, reps, insertAt, out, at0) });
  }

  const head = writeHead(schedKeys, windows.length, holdCount, KIND_ORDER.map((k) => outRows.get(k)!.count), secrets);
  const { out, v } = head;
  at = head.at;
  for (const [, [start, end, sched]] of windows) {
    v.setUint32(at, start);
    v.setUint32(at + 4, end);
    out[at + 8] = sched;
    at += ROW_BYTES.window;
  }
  for (let i = 0; i < holdCount; i++) {
    v.setUint32(at, holdRef[i]!);
    v.setUint16(at + 4, holdWin[i]!);
    at += ROW_BYTES.holder;
  }
  for (const kind of KIND_ORDER) at = outRows.get(kind)!.write(out, v, at);

  // The delta from the base: only the replaced holders' rows can differ.
  const removed: RemovedKey[] = [];
  const upserts: Entry[] = [];
  const seen = new Set<string>();
  for (const e of replacement) {
    const id = entryId(e.kind, e.key);
    const d = dropped.get(id);
    if (!d) {
      upserts.push(e);
      continue;
    }
    seen.add(id);
    const prev = base.holderAt(d.holderRow);
    if (prev.holder !== e.holder || !sameValidity(prev, e)) upserts.push(e);
  }
  for (const [id, d] of dropped) if (!seen.has(id)) removed.push({ kind: d.kind, key: base.keyAt(d.kind, d.row) });
  const sameSecrets = secrets === null || base.secrets === null ? secrets === base.secrets : equalBytes(secrets.daily, base.secrets.daily) && equalBytes(secrets.cardMaster, base.secrets.cardMaster);
  return { body: out, changes: { removed, upserts, secrets: sameSecrets ? null : secrets } };
}

/** Whether a validity admits local time `nowMinutes` (Unix minutes, UTC) at `utcOffset`. */
export type ValidityVerdict = 'ok' | 'not_yet_valid' | 'expired' | 'outside_schedule';

export function checkValidity(v: Validity, nowMinutes: number, utcOffsetMinutes: number): ValidityVerdict {
  if (v.start !== null && nowMinutes < v.start) return 'not_yet_valid';
  if (v.end !== null && nowMinutes >= v.end) return 'expired';
  if (v.schedule) {
    const local = nowMinutes + utcOffsetMinutes;
    const day = Math.floor(local / 1440);
    const minute = local - day * 1440;
    // 1970-01-01 was a Thursday: day 0 is weekday index 3 with Monday = 0.
    const weekday = (((day + 3) % 7) + 7) % 7;
    if (!(v.schedule.days & (1 << weekday)) || minute < v.schedule.from || minute >= v.schedule.to) return 'outside_schedule';
  }
  return 'ok';
}

export function sameValidity(a: Validity, b: Validity): boolean {
  return (
    a.start === b.start &&
    a.end === b.end &&
    (a.schedule === b.schedule ||
      (a.schedule !== null && b.schedule !== null && a.schedule.days === b.schedule.days && a.schedule.from === b.schedule.from && a.schedule.to === b.schedule.to))
  );
}
