/**
 * The guard journal: the few values that change too often for the state slots and must survive
 * a power cut on their own. They are the keypad lockout (failures, escalation level, end), the
 * clock floor, the end of the clock margin after an RTC loss, the dropped-noise counter, and the
 * `iat` of the newest time sync whose offset the lock took.
 *
 * It is a log of fixed 32-byte entries across JOURNAL_PAGES erase pages of the `journal` flash
 * region. Every write programs the next free entry with the whole state and an entry sequence
 * number one higher than the last. The first entry of a page erases that page first, which drops
 * the entries written there one lap ago. Boot takes the valid entry (magic, version and check
 * value) with the highest sequence number.
 *
 * Why a cut never loses the state:
 * - A cut while programming an entry leaves it invalid (its check fails), so boot takes the one
 *   before it: the previous value, never "nothing".
 * - A cut while erasing a page loses only entries from the previous lap. The newest valid entry
 *   is the last one of the page before, which is not touched.
 * - After such a boot, the next write never goes into cells a torn write dirtied: if the entry
 *   after the newest is not blank, writing moves on to the next page and erases it first.
 *
 * An erased region (a new lock, or a lock directory from before the journal existed, whose
 * `journal.bin` is missing and reads as 0xFF) holds no entry. The firmware then takes the
 * lockout from the event log once and writes the first entry (see firmware.ts `restoreLockout`).
 *
 * Wear: one program per write. Each page is erased once per lap of
 * JOURNAL_PAGES × (pageBytes / 32) writes (128 on a `compact` lock, 512 on `standard`).
 */
import type { CryptoProvider } from '@latchkit/protocol';
import { ByteReader, ByteWriter, equalBytes } from '@latchkit/protocol';
import type { FlashDevice } from './flash.js';
import type { DeviceProfile } from './profiles.js';

export interface GuardState {
  /** Wrong keypad codes since the last lockout or success. */
  keypadFailures: number;
  /** Lockouts since the last successful keypad entry (the next lockout lasts 2^level × the first). */
  lockoutLevel: number;
  /** End of the keypad lockout, lock time in Unix seconds (0 = none). */
  lockoutUntil: number;
  /** The lock's clock was at least this (Unix seconds): at the last write, or the last signed time. */
  clockFloor: number;
  /**
   * After an RTC loss: until the lock clock passes this, a credential whose window ends at or
   * before it is refused (it may have ended before the power was lost). 0 when none.
   */
  clockUncertainUntil: number;
  /** Unauthenticated failures that got no record because the log had no room for noise. */
  droppedNoise: number;
  /**
   * `iat` of the newest time sync whose UTC offset the lock took (0: none since the entry format
   * had it). A sync that only confirms the offset in force commits no state, so this is where
   * the replay rule of PROTOCOL.md §7.4 finds it after a reboot.
   */
  offsetIssuedAt: number;
}

export const EMPTY_GUARD: GuardState = Object.freeze({ keypadFailures: 0, lockoutLevel: 0, lockoutUntil: 0, clockFloor: 0, clockUncertainUntil: 0, droppedNoise: 0, offsetIssuedAt: 0 });

/** Erase pages in the journal region. */
export const JOURNAL_PAGES = 4;
export const JOURNAL_ENTRY_BYTES = 32;
const ENTRY_MAGIC = 0x4c47; // "LG"
/**
 * Entry layout 2 (written) adds `offsetIssuedAt` in the u16 that layout 1 reserved plus a u16
 * taken from the RTC-loss margin, which is stored as its distance above the clock floor: it is
 * never more than K (CLOCK_CHECKPOINT_SECONDS) above it, and once the floor passes it the margin
 * is over anyway (boot restarts the clock at the floor at least). Layout 1 entries still read.
 */
const ENTRY_VERSION = 2;
const ENTRY_VERSION_1 = 1;
const CHECK_BYTES = 4;
const U32 = 0xffffffff;

/** Bytes of the `journal` flash region for a profile. */
export function journalBytes(profile: DeviceProfile): number {
  return JOURNAL_PAGES * profile.pageBytes;
}

const clampU32 = (v: number): number => Math.max(0, Math.min(U32, Math.floor(v)));

function encodeEntry(seq: number, s: GuardState, provider: CryptoProvider): Uint8Array {
  const body = new ByteWriter(JOURNAL_ENTRY_BYTES - CHECK_BYTES)
    .u16(ENTRY_MAGIC)
    .u8(ENTRY_VERSION)
    .u8(Math.min(255, s.lockoutLevel))
    .u32(seq)
    .u16(Math.min(0xffff, s.keypadFailures))
    .u16(Math.min(0xffff, Math.max(0, s.clockUncertainUntil - s.clockFloor)))
    .u32(clampU32(s.lockoutUntil))
    .u32(clampU32(s.clockFloor))
    .u32(clampU32(s.offsetIssuedAt))
    .u32(clampU32(s.droppedNoise))
    .finish();
  const out = new Uint8Array(JOURNAL_ENTRY_BYTES);
  out.set(body);
  out.set(provider.sha256(body).subarray(0, CHECK_BYTES), body.length);
  return out;
}

function decodeEntry(bytes: Uint8Array, provider: CryptoProvider): { seq: number; state: GuardState } | null {
  const body = bytes.subarray(0, JOURNAL_ENTRY_BYTES - CHECK_BYTES);
  if (!equalBytes(provider.sha256(body).subarray(0, CHECK_BYTES), bytes.subarray(JOURNAL_ENTRY_BYTES - CHECK_BYTES))) return null;
  const r = new ByteReader(body, 'journal entry');
  if (r.u16() !== ENTRY_MAGIC) return null;
  const version = r.u8();
  if (version !== ENTRY_VERSION && version !== ENTRY_VERSION_1) return null;
  const lockoutLevel = r.u8();
  const seq = r.u32();
  const keypadFailures = r.u16();
  const margin = r.u16();
  const lockoutUntil = r.u32();
  const clockFloor = r.u32();
  const third = r.u32();
  const droppedNoise = r.u32();
  if (version === ENTRY_VERSION_1) {
    return { seq, state: { keypadFailures, lockoutLevel, lockoutUntil, clockFloor, clockUncertainUntil: third, droppedNoise, offsetIssuedAt: 0 } };
  }
  return { seq, state: { keypadFailures, lockoutLevel, lockoutUntil, clockFloor, clockUncertainUntil: margin === 0 ? 0 : clockFloor + margin, droppedNoise, offsetIssuedAt: third } };
}

function blank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0xff) return false;
  return true;
}

export class GuardJournal {
  private readonly perPage: number;
  private readonly pageBytes: number;
  /** Sequence number of the newest valid entry (0: none). */
  private seq = 0;
  /** Where the next entry goes: page and entry within the page. */
  private page = 0;
  private slot = 0;
  /** Writes made since boot (for tests and the wear figures). */
  writes = 0;

  private constructor(
    private readonly flash: FlashDevice,
    profile: DeviceProfile,
    private readonly provider: CryptoProvider,
  ) {
    this.pageBytes = profile.pageBytes;
    this.perPage = Math.floor(profile.pageBytes / JOURNAL_ENTRY_BYTES);
  }

  /** Scan the region: the newest valid state (null when it holds none) and where to write next. */
  static open(flash: FlashDevice, profile: DeviceProfile, provider: CryptoProvider): { journal: GuardJournal; state: GuardState | null } {
    const j = new GuardJournal(flash, profile, provider);
    const raw = flash.read('journal', 0, JOURNAL_PAGES * j.pageBytes);
    let newest: { seq: number; state: GuardState; page: number; slot: number } | null = null;
    for (let page = 0; page < JOURNAL_PAGES; page++) {
      for (let slot = 0; slot < j.perPage; slot++) {
        const at = page * j.pageBytes + slot * JOURNAL_ENTRY_BYTES;
        const bytes = raw.subarray(at, at + JOURNAL_ENTRY_BYTES);
        if (blank(bytes)) continue;
        const e = decodeEntry(bytes, provider);
        if (e && (newest === null || e.seq > newest.seq)) newest = { ...e, page, slot };
      }
    }
    if (newest) {
      j.seq = newest.seq;
      j.page = newest.page;
      j.slot = newest.slot + 1;
      if (j.slot >= j.perPage) j.advancePage();
      else if (!blank(raw.subarray(j.offset(), j.offset() + JOURNAL_ENTRY_BYTES))) j.advancePage(); // dirtied by a torn write
    }
    return { journal: j, state: newest?.state ?? null };
  }

  private offset(): number {
    return this.page * this.pageBytes + this.slot * JOURNAL_ENTRY_BYTES;
  }

  private advancePage(): void {
    this.page = (this.page + 1) % JOURNAL_PAGES;
    this.slot = 0;
  }

  /** Append `state` as the newest entry: one program, plus a page erase on entering a page. Throws POWER_CUT. */
  write(state: GuardState): void {
    const seq = this.seq + 1;
    const bytes = encodeEntry(seq, state, this.provider);
    if (this.slot === 0) this.flash.erase('journal', this.page * this.pageBytes, this.pageBytes);
    this.flash.program('journal', this.offset(), bytes);
    this.seq = seq;
    this.writes++;
    this.slot++;
    if (this.slot >= this.perPage) this.advancePage();
  }
}
