/**
 * The change journal: accepted deltas appended to pre-erased flash instead of a whole new state
 * image (./storage.ts owns when it is used; this file owns the record layout and the scan).
 *
 * The `changes` region (CHANGE_JOURNAL_PAGES erase pages, kept erased) holds records that extend
 * the state image in force, in order. A record names the commit generation of the image it
 * extends, the sequence it moves from (`baseSeq`) and to (`seq`), and carries the delta's
 * decrypted body (PROTOCOL.md §4.5), the new set digest, issue time and the opaque entry
 * accumulator. Layout (big-endian, every field word-aligned, the whole record a multiple of 4):
 *
 *   0  u32 magic "LKJD"        4  u32 base generation      8  u32 record bytes (all of it)
 *  12  u32 seq                16  u32 issuedAt            20  u32 base seq
 *  24  u8 flags (1 = entryAcc) u8 version u16 entryAcc bytes   28  u32 delta body bytes
 *  32  digest (32)            64  entryAcc (if flag 1), delta body, zero padding to 4
 *  ..  check (8): SHA-256 prefix over everything before it
 *  ..  commit word (4) "LKOK", programmed LAST, by its own program operation
 *
 * Crash guarantees ("old or new, never broken, never lower"):
 * - Records are only ever programmed into erased bytes, in order, and the commit word last. A cut
 *   anywhere before the commit word is complete leaves a record without it: boot ends the replay
 *   there, which is the state before that delta (old). A complete commit word follows a complete
 *   record, whose check value boot verifies as well (new).
 * - Boot replays only records of the image's own commit generation, each extending the sequence
 *   the previous one reached; the first record that fails any test ends the replay, and nothing
 *   after it is read. So records left over from an older image (their pages not yet erased when
 *   power went) or garbage after a torn record are never applied.
 * - After a boot that found a torn record or leftover bytes where the next record would go, the
 *   next delta is not appended there (it would program over dirtied cells): the store writes a
 *   full image instead, which also erases the region (storage.ts `commit`).
 * - The sequence only grows: each record's `seq` is above its `baseSeq`, which must equal the
 *   sequence reached so far.
 */
import type { CryptoProvider } from '@latchkit/protocol';
import { ByteReader, ByteWriter, equalBytes } from '@latchkit/protocol';
import type { FlashDevice } from './flash.js';
import type { DeviceProfile } from './profiles.js';

/** Erase pages of the `changes` region (64 KiB at 4 KiB pages). */
export const CHANGE_JOURNAL_PAGES = 16;
const RECORD_MAGIC = 0x4c4b4a44; // "LKJD"
const COMMIT_WORD = 0x4c4b4f4b; // "LKOK"
const RECORD_VERSION = 1;
const HEADER_BYTES = 64;
const CHECK_BYTES = 8;
const COMMIT_BYTES = 4;
const FLAG_ENTRY_ACC = 1;

/** Bytes of the `changes` flash region for a profile. */
export function changeJournalBytes(profile: DeviceProfile): number {
  return CHANGE_JOURNAL_PAGES * profile.pageBytes;
}

export interface ChangeRecord {
  /** Commit generation of the state image this record extends. */
  baseGeneration: number;
  baseSeq: number;
  seq: number;
  issuedAt: number;
  digest: Uint8Array;
  entryAcc: Uint8Array | null;
  /** The delta's decrypted body. */
  plain: Uint8Array;
}

const pad4 = (n: number): number => (n + 3) & ~3;

/** Total bytes of a record (check value and commit word included). */
export function recordBytes(r: Pick<ChangeRecord, 'entryAcc' | 'plain'>): number {
  return pad4(HEADER_BYTES + (r.entryAcc?.length ?? 0) + r.plain.length) + CHECK_BYTES + COMMIT_BYTES;
}

/** The record's bytes in two parts: everything up to the check value, then the commit word. */
export function encodeRecord(r: ChangeRecord, provider: CryptoProvider): { body: Uint8Array; commit: Uint8Array } {
  const total = recordBytes(r);
  const acc = r.entryAcc;
  const head = new ByteWriter(HEADER_BYTES)
    .u32(RECORD_MAGIC)
    .u32(r.baseGeneration)
    .u32(total)
    .u32(r.seq)
    .u32(r.issuedAt)
    .u32(r.baseSeq)
    .u8(acc ? FLAG_ENTRY_ACC : 0)
    .u8(RECORD_VERSION)
    .u16(acc?.length ?? 0)
    .u32(r.plain.length)
    .bytes(r.digest)
    .finish();
  const body = new Uint8Array(total - COMMIT_BYTES);
  body.set(head);
  if (acc) body.set(acc, HEADER_BYTES);
  body.set(r.plain, HEADER_BYTES + (acc?.length ?? 0));
  const checkAt = total - COMMIT_BYTES - CHECK_BYTES;
  body.set(provider.sha256(body.subarray(0, checkAt)).subarray(0, CHECK_BYTES), checkAt);
  return { body, commit: new ByteWriter(COMMIT_BYTES).u32(COMMIT_WORD).finish() };
}

/**
 * The record at `offset` if it is complete and valid and extends `baseGeneration`; null ends the
 * replay. `raw` is the whole region.
 */
export function readRecord(raw: Uint8Array, offset: number, baseGeneration: number, provider: CryptoProvider): ChangeRecord | null {
  if (offset + HEADER_BYTES + CHECK_BYTES + COMMIT_BYTES > raw.length) return null;
  const r = new ByteReader(raw.subarray(offset, offset + HEADER_BYTES), 'change record');
  if (r.u32() !== RECORD_MAGIC) return null;
  if (r.u32() !== baseGeneration) return null;
  const total = r.u32();
  if (total % 4 !== 0 || total < HEADER_BYTES + CHECK_BYTES + COMMIT_BYTES || offset + total > raw.length) return null;
  const seq = r.u32();
  const issuedAt = r.u32();
  const baseSeq = r.u32();
  const flags = r.u8();
  if (r.u8() !== RECORD_VERSION) return null;
  const accBytes = r.u16();
  const plainBytes = r.u32();
  const digest = r.take(32).slice();
  if ((flags & ~FLAG_ENTRY_ACC) !== 0 || (!(flags & FLAG_ENTRY_ACC) && accBytes !== 0)) return null;
  if (pad4(HEADER_BYTES + accBytes + plainBytes) + CHECK_BYTES + COMMIT_BYTES !== total) return null;
  const rec = raw.subarray(offset, offset + total);
  if (new ByteReader(rec.subarray(total - COMMIT_BYTES), 'commit word').u32() !== COMMIT_WORD) return null;
  const checkAt = total - COMMIT_BYTES - CHECK_BYTES;
  if (!equalBytes(provider.sha256(rec.subarray(0, checkAt)).subarray(0, CHECK_BYTES), rec.subarray(checkAt, checkAt + CHECK_BYTES))) return null;
  const entryAcc = flags & FLAG_ENTRY_ACC ? rec.slice(HEADER_BYTES, HEADER_BYTES + accBytes) : null;
  const plain = rec.slice(HEADER_BYTES + accBytes, HEADER_BYTES + accBytes + plainBytes);
  return { baseGeneration, baseSeq, seq, issuedAt, digest, entryAcc, plain };
}

export function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0xff) return false;
  return true;
}

/**
 * Program a record at `offset` (erased bytes): the body in one program operation per erase page
 * it touches, then the commit word on its own. Throws POWER_CUT from the flash.
 */
export function programRecord(flash: FlashDevice, pageBytes: number, offset: number, record: { body: Uint8Array; commit: Uint8Array }): void {
  let at = 0;
  while (at < record.body.length) {
    const pageEnd = (Math.floor((offset + at) / pageBytes) + 1) * pageBytes;
    const n = Math.min(record.body.length - at, pageEnd - (offset + at));
    flash.program('changes', offset + at, record.body.subarray(at, at + n));
    at += n;
  }
  flash.program('changes', offset + record.body.length, record.commit);
}
