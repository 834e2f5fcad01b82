/**
 * The lock's committed state in flash: two slots and an atomic commit record.
 *
 * Everything a lock enforces (commissioning, trust anchors, content key, the decrypted set and
 * its sequence) is one image. An update writes the new image into the slot that is not in use,
 * then writes a commit record naming that slot, its length and its SHA-256. The commit record
 * has two copies written alternately, each with its own check value, so a cut while writing
 * one leaves the other. Boot takes the newest commit record whose check and slot hash verify.
 *
 * Why that gives "old or new, never broken, never lower": until the new commit record is
 * complete, the newest valid record still names the old slot, which was not touched; once it is
 * complete it names a slot whose hash it carries. The sequence is inside the image, so it
 * changes in the same step as the set.
 *
 * An accepted delta does not rewrite the image: it is appended to the change journal
 * (./change-journal.ts, which states its own crash guarantees) as one record extending the image
 * in force, and boot replays those records on top of the image. A full image commit (anything
 * that is not a delta, a delta that does not fit the journal, or a compaction) makes the journal
 * logically empty at once, since its records name the older image's generation, and then erases
 * the journal pages that hold anything, as part of the same commit.
 */
import type { CryptoProvider, DeltaChanges, Entry, OffsetTransition, RemovedKey, SetSecrets } from '@latchkit/protocol';
import { applyChanges, ByteReader, ByteWriter, CredentialSet, entryId, equalBytes, parseDelta, ProtocolError } from '@latchkit/protocol';
import type { ChangeRecord } from './change-journal.js';
import { changeJournalBytes, encodeRecord, isBlank, programRecord, readRecord, recordBytes } from './change-journal.js';
import { simFail } from '../errors.js';
import type { FlashDevice, FlashRegion } from './flash.js';
import { journalBytes } from './journal.js';
import type { DeviceProfile } from './profiles.js';

export interface CommissionState {
  /** Commissioning generation; a re-commissioning must carry a higher one. */
  generation: number;
  /** Counter of the last accepted anchor rotation. */
  rotationSeq: number;
  /** Signed time of the commissioning message, Unix seconds. */
  commissionedAt: number;
  /** Property local time offset from UTC, minutes (from commissioning or the newest time sync). */
  utcOffset: number;
  /**
   * The next offset change the same message announced (daylight saving), or null. From its
   * instant on the lock reads local time at its offset (protocol `offsetAt`).
   */
  transition: OffsetTransition | null;
  anchors: Uint8Array[];
  contentKey: Uint8Array;
}

export interface SetState {
  seq: number;
  /** Signed issue time of the set, Unix seconds. */
  issuedAt: number;
  digest: Uint8Array;
  body: Uint8Array;
  /**
   * The entry accumulator that came with the set (opaque bytes from the protocol's
   * `AcceptedSet.entryAcc`), passed back when the next set message is opened; null or absent
   * when there is none.
   */
  entryAcc?: Uint8Array | null;
}

export interface PersistentState {
  commission: CommissionState | null;
  set: SetState | null;
  /**
   * Newest signed time committed with a state change, Unix seconds. The clock never boots below
   * it. The guard journal (./journal.ts) keeps a newer floor (every accepted signed time and a
   * checkpoint every 10 minutes of running); boot takes the higher of the two.
   */
  clockFloor: number;
}

export const EMPTY_STATE: PersistentState = Object.freeze({ commission: null, set: null, clockFloor: 0 });

const IMAGE_MAGIC = 0x4c4b5354; // "LKST"
const IMAGE_VERSION = 1;
const COMMIT_MAGIC = 0x4c4b4352; // "LKCR"
export const COMMIT_RECORD_BYTES = 64;
const COMMIT_CHECK_BYTES = 8;

/** Bytes `encodeImage(s)` takes, without encoding it. */
export function imageLength(s: PersistentState): number {
  let n = 10;
  if (s.commission) n += 15 + 32 * s.commission.anchors.length + 32;
  if (s.set) n += 44 + s.set.body.length;
  if (s.commission?.transition) n += 6;
  if (s.set?.entryAcc) n += 2 + s.set.entryAcc.length;
  return n;
}

export function encodeImage(s: PersistentState): Uint8Array {
  const w = new ByteWriter(64 + (s.set?.body.length ?? 0) + 32 * (s.commission?.anchors.length ?? 0) + (s.set?.entryAcc?.length ?? 0));
  const transition = s.commission?.transition ?? null;
  const entryAcc = s.set?.entryAcc ?? null;
  w.u32(IMAGE_MAGIC).u8(IMAGE_VERSION).u8((s.commission ? 1 : 0) | (s.set ? 2 : 0) | (transition ? 4 : 0) | (entryAcc ? 8 : 0)).u32(s.clockFloor);
  if (s.commission) {
    const c = s.commission;
    w.u32(c.generation).u32(c.rotationSeq).u32(c.commissionedAt).u16(c.utcOffset & 0xffff).u8(c.anchors.length);
    for (const a of c.anchors) w.bytes(a);
    w.bytes(c.contentKey);
  }
  if (s.set) {
    w.u32(s.set.seq).u32(s.set.issuedAt).bytes(s.set.digest).u32(s.set.body.length).bytes(s.set.body);
  }
  // Flag 4 appends the transition at the end, so an image written before transitions existed
  // (flags 1|2 only) reads exactly as it did.
  if (transition) w.u32(transition.at).u16(transition.offset & 0xffff);
  // Flag 8 appends the set's entry accumulator after that, the same way.
  if (entryAcc) w.u16(entryAcc.length).bytes(entryAcc);
  return w.finish();
}

function signed16(raw: number): number {
  return raw >= 0x8000 ? raw - 0x10000 : raw;
}

export function decodeImage(bytes: Uint8Array): PersistentState {
  const r = new ByteReader(bytes, 'state image');
  if (r.u32() !== IMAGE_MAGIC) throw new ProtocolError('MALFORMED', 'state image: bad magic');
  if (r.u8() !== IMAGE_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', 'state image: unknown version');
  const flags = r.u8();
  const clockFloor = r.u32();
  let commission: CommissionState | null = null;
  let set: SetState | null = null;
  if (flags & 1) {
    const generation = r.u32();
    const rotationSeq = r.u32();
    const commissionedAt = r.u32();
    const utcOffset = signed16(r.u16());
    const n = r.u8();
    const anchors: Uint8Array[] = [];
    for (let i = 0; i < n; i++) anchors.push(r.take(32).slice());
    commission = { generation, rotationSeq, commissionedAt, utcOffset, transition: null, anchors, contentKey: r.take(32).slice() };
  }
  if (flags & 2) {
    const seq = r.u32();
    const issuedAt = r.u32();
    const digest = r.take(32).slice();
    const body = r.take(r.u32()).slice();
    set = { seq, issuedAt, digest, body };
  }
  if (flags & 4) {
    if (!commission) throw new ProtocolError('MALFORMED', 'state image: a transition without commissioning');
    const at = r.u32();
    commission.transition = { at, offset: signed16(r.u16()) };
  }
  if (flags & 8) {
    if (!set) throw new ProtocolError('MALFORMED', 'state image: an entry accumulator without a set');
    set.entryAcc = r.take(r.u16()).slice();
  }
  r.end();
  return { commission, set, clockFloor };
}

interface CommitRecord {
  /** Which of the two copies it was read from (not stored in the record). */
  copy?: number;
  generation: number;
  slot: 0 | 1;
  length: number;
  seq: number;
  hash: Uint8Array;
}

function encodeCommit(c: CommitRecord, provider: CryptoProvider): Uint8Array {
  const w = new ByteWriter(COMMIT_RECORD_BYTES).u32(COMMIT_MAGIC).u32(c.generation).u8(c.slot).u8(0).u8(0).u8(0).u32(c.length).u32(c.seq).bytes(c.hash);
  const head = w.finish();
  const out = new Uint8Array(COMMIT_RECORD_BYTES).fill(0);
  out.set(head);
  out.set(provider.sha256(out.subarray(0, COMMIT_RECORD_BYTES - COMMIT_CHECK_BYTES)).subarray(0, COMMIT_CHECK_BYTES), COMMIT_RECORD_BYTES - COMMIT_CHECK_BYTES);
  return out;
}

function decodeCommit(bytes: Uint8Array, provider: CryptoProvider): CommitRecord | null {
  const body = bytes.subarray(0, COMMIT_RECORD_BYTES - COMMIT_CHECK_BYTES);
  if (!equalBytes(provider.sha256(body).subarray(0, COMMIT_CHECK_BYTES), bytes.subarray(COMMIT_RECORD_BYTES - COMMIT_CHECK_BYTES))) return null;
  const r = new ByteReader(body, 'commit record');
  if (r.u32() !== COMMIT_MAGIC) return null;
  const generation = r.u32();
  const slot = r.u8();
  r.take(3);
  const length = r.u32();
  const seq = r.u32();
  const hash = r.take(32).slice();
  if (slot > 1) return null;
  return { generation, slot: slot as 0 | 1, length, seq, hash };
}

export interface BootReport {
  /** Which slot the state came from, or null for a factory-fresh (or never committed) lock. */
  slot: 0 | 1 | null;
  generation: number;
  /** True when the newest commit record was unusable and an older one was taken. */
  fellBack: boolean;
  /** Change-journal records replayed on top of the image (./change-journal.ts). */
  replayed: number;
}

/** Where the change journal stands (for summaries and tests). */
export interface ChangeJournalStatus {
  /** Bytes of the region. */
  size: number;
  /** Bytes the valid records of the image in force take (the next record goes here). */
  used: number;
  /** Valid records of the image in force. */
  records: number;
}

/** Reads and writes the committed state; knows the slot, commit and journal layouts, nothing else. */
export class StateStore {
  private generation: number;
  private active: 0 | 1 | null;
  private activeCopy: number | null;
  /** Commit generation of the image in force (what journal records extend); 0 when none. */
  private baseGeneration: number;
  /** End of the last valid record of the image in force in the `changes` region. */
  private journalEnd: number;
  private journalRecords: number;
  private readonly journalSize: number;

  private constructor(
    private readonly flash: FlashDevice,
    private readonly profile: DeviceProfile,
    private readonly provider: CryptoProvider,
    boot: BootReport,
    activeCopy: number | null,
    private readonly overwriteInForce: boolean,
    baseGeneration: number,
    journal: { end: number; records: number },
  ) {
    this.generation = boot.generation;
    this.active = boot.slot;
    this.activeCopy = activeCopy;
    this.baseGeneration = baseGeneration;
    this.journalEnd = journal.end;
    this.journalRecords = journal.records;
    this.journalSize = changeJournalBytes(profile);
  }

  /**
   * Boot: the newest state whose commit record and slot both verify, else the empty state; then
   * the change-journal records that extend that image, replayed in order (the MCU time of their
   * check values is boot time: no answer waits for it).
   *
   * `overwriteInForce` is the `torn-commit` mutant (./mutants.ts): it writes each new image over
   * the slot in force, which is exactly what the two slots exist to prevent.
   */
  static open(flash: FlashDevice, profile: DeviceProfile, provider: CryptoProvider, options: { overwriteInForce?: boolean } = {}): { store: StateStore; state: PersistentState; boot: BootReport } {
    const records: CommitRecord[] = [];
    for (const copy of [0, 1]) {
      const rec = decodeCommit(flash.read('commit', copy * COMMIT_RECORD_BYTES, COMMIT_RECORD_BYTES), provider);
      if (rec) records.push({ ...rec, copy });
    }
    records.sort((a, b) => b.generation - a.generation);
    const newestGeneration = records[0]?.generation ?? 0;
    for (const [i, rec] of records.entries()) {
      if (rec.length > profile.slotBytes) continue;
      const image = flash.read(rec.slot === 0 ? 'slot0' : 'slot1', 0, rec.length);
      if (!equalBytes(provider.sha256(image), rec.hash)) continue;
      let state: PersistentState;
      try {
        state = decodeImage(image);
      } catch {
        continue;
      }
      const replay = replayJournal(flash, profile, provider, rec.generation, state);
      const boot = { slot: rec.slot, generation: rec.generation, fellBack: i > 0, replayed: replay.records };
      // Generations keep increasing even past an unusable newer record, so the next commit
      // never reuses a generation number that some copy in flash already carries.
      const store = new StateStore(flash, profile, provider, { ...boot, generation: Math.max(newestGeneration, rec.generation) }, rec.copy!, options.overwriteInForce === true, rec.generation, replay);
      return { store, state: replay.state, boot };
    }
    const boot: BootReport = { slot: null, generation: newestGeneration, fellBack: records.length > 0, replayed: 0 };
    return { store: new StateStore(flash, profile, provider, boot, null, options.overwriteInForce === true, 0, { end: 0, records: 0 }), state: EMPTY_STATE, boot };
  }

  /** The slot and commit generation of the state in force now (null slot: nothing committed). */
  get committed(): { slot: 0 | 1 | null; generation: number } {
    return { slot: this.active, generation: this.generation };
  }

  get journal(): ChangeJournalStatus {
    return { size: this.journalSize, used: this.journalEnd, records: this.journalRecords };
  }

  /** Bytes an image of `state` takes; FLASH_CAPACITY is raised before any write if it does not fit. */
  imageSize(state: PersistentState): number {
    return imageLength(state);
  }

  private checkCapacity(state: PersistentState): void {
    const size = imageLength(state);
    if (size > this.profile.slotBytes) {
      simFail(
        'FLASH_CAPACITY',
        `state image of ${size} bytes does not fit the ${this.profile.name} profile's ${this.profile.slotBytes}-byte flash slot; the current set stays in force`,
        { size, capacity: this.profile.slotBytes },
      );
    }
  }

  /**
   * Atomically replace the committed state with a full image, then erase the change-journal pages
   * that hold anything (their records extend the older image and are ignored from the commit
   * record on). Throws FLASH_CAPACITY (nothing written) or POWER_CUT.
   */
  commit(state: PersistentState): void {
    this.checkCapacity(state);
    const image = encodeImage(state);
    const target: 0 | 1 = this.overwriteInForce ? (this.active ?? 0) : this.active === 0 ? 1 : 0;
    const region = target === 0 ? 'slot0' : 'slot1';
    const page = this.profile.pageBytes;
    const used = Math.ceil(image.length / page) * page;
    for (let at = 0; at < used; at += page) this.flash.erase(region, at, page);
    for (let at = 0; at < image.length; at += page) this.flash.program(region, at, image.subarray(at, at + page));
    const generation = this.generation + 1;
    const record = encodeCommit({ generation, slot: target, length: image.length, seq: state.set?.seq ?? 0, hash: this.provider.sha256(image) }, this.provider);
    // Never overwrite the record the current state was booted or committed from: if this write
    // is cut, that record is the one boot must still find.
    const copy = this.activeCopy === 0 ? 1 : 0;
    this.flash.erase('commit', copy * COMMIT_RECORD_BYTES, COMMIT_RECORD_BYTES);
    this.flash.program('commit', copy * COMMIT_RECORD_BYTES, record);
    this.generation = generation;
    this.baseGeneration = generation;
    this.active = target;
    this.activeCopy = copy;
    this.journalEnd = 0;
    this.journalRecords = 0;
    // The new image is in force: erasing the old records is now safe (a cut here leaves records
    // of an older generation, which boot ignores, and the next commit erases them again).
    this.eraseJournal();
  }

  /** Erase every page of the change journal that is not blank already (reads cost nothing). */
  private eraseJournal(): void {
    if (this.journalSize === 0) return;
    const page = this.profile.pageBytes;
    const raw = this.flash.read('changes', 0, this.journalSize);
    for (let at = 0; at < this.journalSize; at += page) {
      if (!isBlank(raw.subarray(at, at + page))) this.flash.erase('changes', at, page);
    }
  }

  /**
   * Commit `state`, which is the state in force with one accepted delta applied (`plain` is the
   * delta's decrypted body, `baseSeq` the sequence it applies to): one journal record when it
   * fits into erased journal bytes, else a full image (a compaction: this commit pays for it).
   * Returns which it was. Throws FLASH_CAPACITY (nothing written) or POWER_CUT.
   */
  commitDelta(state: PersistentState, delta: { plain: Uint8Array; baseSeq: number }): 'journal' | 'image' {
    const set = state.set;
    if (!set || this.active === null || this.overwriteInForce) {
      this.commit(state);
      return 'image';
    }
    // The image must still fit when the journal is compacted later: refuse now, as a full commit would.
    this.checkCapacity(state);
    const rec = { baseGeneration: this.baseGeneration, baseSeq: delta.baseSeq, seq: set.seq, issuedAt: set.issuedAt, digest: set.digest, entryAcc: set.entryAcc ?? null, plain: delta.plain };
    const size = recordBytes(rec);
    const at = this.journalEnd;
    // Program only into erased cells: a torn record or leftovers where the next record would go
    // (found after a cut) mean a full image, which erases the region.
    if (at + size > this.journalSize || !isBlank(this.flash.read('changes', at, size))) {
      this.commit(state);
      return 'image';
    }
    programRecord(this.flash, this.profile.pageBytes, at, encodeRecord(rec, this.provider));
    this.journalEnd = at + size;
    this.journalRecords++;
    return 'journal';
  }
}

/**
 * The journal records that extend the image of `generation` (holding `state`), in order. The
 * first record that is missing, torn, of another generation, not extending the sequence reached,
 * or not applying ends the replay.
 *
 * Like a firmware's RAM overlay, the records' changes are collected per credential key (a later
 * record's change of a key replaces an earlier one's) and checked as they come (a removal must
 * name a key held at that point), then applied to the image's set once: the same entries as
 * applying each delta in turn, without repacking the whole body per record.
 */
function replayJournal(flash: FlashDevice, profile: DeviceProfile, provider: CryptoProvider, generation: number, image: PersistentState): { state: PersistentState; end: number; records: number } {
  const size = changeJournalBytes(profile);
  const none = { state: image, end: 0, records: 0 };
  const start = image.set;
  if (size === 0 || !start || start.body.length === 0) return none;
  const raw = flash.read('changes', 0, size);
  let base: CredentialSet;
  try {
    base = CredentialSet.parse(start.body);
  } catch {
    return none;
  }
  const overlay = new Map<string, { kind: RemovedKey['kind']; key: Uint8Array; entry: Entry | null }>();
  let secrets: SetSecrets | null = null;
  const held = (kind: RemovedKey['kind'], key: Uint8Array): boolean => {
    const o = overlay.get(entryId(kind, key));
    return o ? o.entry !== null : base.rowIndex(kind, key) >= 0;
  };
  const taken: ChangeRecord[] = [];
  let seq = start.seq;
  let end = 0;
  for (;;) {
    const rec = readRecord(raw, end, generation, provider);
    if (!rec || rec.baseSeq !== seq || rec.seq <= seq) break;
    let changes: DeltaChanges;
    try {
      changes = parseDelta(rec.plain);
    } catch {
      break;
    }
    if (!changes.removed.every((r) => held(r.kind, r.key))) break;
    for (const r of changes.removed) overlay.set(entryId(r.kind, r.key), { kind: r.kind, key: r.key, entry: null });
    for (const e of changes.upserts) overlay.set(entryId(e.kind, e.key), { kind: e.kind, key: e.key, entry: e });
    if (changes.secrets) secrets = changes.secrets;
    taken.push(rec);
    seq = rec.seq;
    end += recordBytes(rec);
  }
  const last = taken.at(-1);
  if (!last) return none;
  const removed: RemovedKey[] = [];
  const upserts: Entry[] = [];
  for (const o of overlay.values()) {
    if (o.entry) upserts.push(o.entry);
    else if (base.rowIndex(o.kind, o.key) >= 0) removed.push({ kind: o.kind, key: o.key });
  }
  let body: Uint8Array;
  try {
    body = applyChanges(base, { removed, upserts, secrets });
  } catch {
    // Records this firmware accepted always apply; should the combined change not, apply them
    // one by one and stop at the first that fails.
    return replayOneByOne(start, image, taken);
  }
  const clockFloor = Math.max(image.clockFloor, ...taken.map((r) => r.issuedAt));
  return { state: { ...image, set: { seq: last.seq, issuedAt: last.issuedAt, digest: last.digest, body, entryAcc: last.entryAcc }, clockFloor }, end, records: taken.length };
}

function replayOneByOne(start: SetState, image: PersistentState, records: ChangeRecord[]): { state: PersistentState; end: number; records: number } {
  let state = image;
  let current = CredentialSet.parse(start.body);
  let end = 0;
  let n = 0;
  for (const rec of records) {
    let body: Uint8Array;
    try {
      body = applyChanges(current, parseDelta(rec.plain));
      current = CredentialSet.parse(body);
    } catch {
      break;
    }
    state = { ...state, set: { seq: rec.seq, issuedAt: rec.issuedAt, digest: rec.digest, body, entryAcc: rec.entryAcc }, clockFloor: Math.max(state.clockFloor, rec.issuedAt) };
    end += recordBytes(rec);
    n++;
  }
  return { state, end, records: n };
}

/** Region sizes of a device profile's flash (what a flash device for it must provide). */
export function flashSizes(profile: DeviceProfile): Record<FlashRegion, number> {
  return { slot0: profile.slotBytes, slot1: profile.slotBytes, commit: 2 * COMMIT_RECORD_BYTES, events: profile.eventRecords * 32, journal: journalBytes(profile), changes: changeJournalBytes(profile) };
}
