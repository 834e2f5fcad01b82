/**
 * The lock's hash-chained audit log, kept in a flash ring that survives restarts.
 *
 * Records are the protocol's 32-byte event records (PROTOCOL.md §8). The ring is divided into
 * erase sectors; entering a sector erases it, which drops that many oldest records. Boot finds
 * records by their index, not their position, and keeps the longest run that chains back from
 * the newest record that verifies, so a record torn by a power cut is dropped instead of
 * breaking the chain. Because a torn record leaves dirty cells that cannot be re-programmed
 * without an erase, the next append after such a boot starts at the next sector.
 *
 * Unauthenticated noise (`isNoiseRecord`: rejected messages, phone answers from unknown keys or
 * with bad proofs) goes in through `appendNoise`, which refuses instead of making room: a noise
 * record is never written when entering its sector would erase a record that is not noise, nor
 * when the log already holds one sector's worth of noise. So noise can neither push access
 * records out nor take their capacity: an access record stays until at least
 * `eventRecords - 2 × eventSectorRecords` newer access records were written after it.
 */
import type { CryptoProvider, EventRecord, EventTypeName, DenyReasonName } from '@latchkit/protocol';
import { chainEvent, CredentialKind, decodeEvent, encodeEvent, equalBytes, EVENT_RECORD_BYTES, genesisChain } from '@latchkit/protocol';
import type { FlashDevice } from './flash.js';
import type { DeviceProfile } from './profiles.js';

export interface NewEvent {
  time: number;
  type: EventTypeName;
  kind?: number;
  reason?: DenyReasonName;
  holder?: number;
  detail?: number;
}

interface Stored {
  record: EventRecord;
  pos: number;
}

/** Phone denials that anyone in radio range can cause without holding a listed key. */
const NOISE_PHONE_REASONS: ReadonlySet<DenyReasonName> = new Set(['unknownCredential', 'badProof', 'staleNonce', 'noSet']);

/**
 * Records that unauthenticated radio traffic can cause: every `syncRejected` (junk, forged or
 * replayed messages) and phone denials that did not prove a listed key (unknown key, bad proof,
 * stale nonce, no set). A phone denial for a verified key (expired, not yet valid, outside its
 * schedule) is an access record, as are all keypad and card records (someone at the door).
 */
export function isNoiseRecord(e: Pick<EventRecord, 'type' | 'kind' | 'reason'>): boolean {
  if (e.type === 'syncRejected') return true;
  return e.type === 'denied' && e.kind === CredentialKind.phone && NOISE_PHONE_REASONS.has(e.reason);
}

function blank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0xff) return false;
  return true;
}

export class EventLog {
  /** Oldest first. */
  private stored: Stored[] = [];
  private writePos = 0;
  private readonly genesis: Uint8Array;
  private readonly capacity: number;
  private readonly sector: number;
  /** Noise records among `stored`; at most `sector` of them (see `appendNoise`). */
  private noiseStored = 0;

  private constructor(
    private readonly flash: FlashDevice,
    profile: DeviceProfile,
    private readonly provider: CryptoProvider,
    lockId: Uint8Array,
  ) {
    this.capacity = profile.eventRecords;
    this.sector = profile.eventSectorRecords;
    this.genesis = genesisChain(lockId, provider);
  }

  static open(flash: FlashDevice, profile: DeviceProfile, provider: CryptoProvider, lockId: Uint8Array): EventLog {
    const log = new EventLog(flash, profile, provider, lockId);
    log.scan();
    return log;
  }

  private scan(): void {
    const raw = this.flash.read('events', 0, this.capacity * EVENT_RECORD_BYTES);
    const byIndex = new Map<number, Stored>();
    const dirty = new Set<number>();
    for (let pos = 0; pos < this.capacity; pos++) {
      const bytes = raw.subarray(pos * EVENT_RECORD_BYTES, (pos + 1) * EVENT_RECORD_BYTES);
      if (blank(bytes)) continue;
      dirty.add(pos);
      try {
        const record = decodeEvent(bytes);
        // Two records claiming one index can only come from a torn write; keep neither blindly,
        // the chain walk below decides which (if any) belongs.
        const prev = byIndex.get(record.index);
        if (!prev || pos !== prev.pos) byIndex.set(record.index, prev ? this.pickChained(prev, { record, pos }, byIndex) : { record, pos });
      } catch {
        // Torn or half-erased record: not an event.
      }
    }
    const candidates = [...byIndex.keys()].sort((a, b) => b - a);
    let head: Stored | undefined;
    for (const index of candidates) {
      const s = byIndex.get(index)!;
      const prevChain = index === 0 ? this.genesis : byIndex.get(index - 1)?.record.chain;
      if (prevChain && this.verifies(prevChain, s.record)) {
        head = s;
        break;
      }
    }
    const run: Stored[] = [];
    if (head) {
      run.push(head);
      for (let i = head.record.index - 1; i >= 0; i--) {
        const s = byIndex.get(i);
        if (!s) break;
        const prevChain = i === 0 ? this.genesis : byIndex.get(i - 1)?.record.chain;
        // The oldest kept record cannot be checked (its predecessor is erased); it is kept because
        // the next one's chain value was computed from it.
        if (prevChain && !this.verifies(prevChain, s.record)) {
          run.push(s);
          break;
        }
        run.push(s);
      }
    }
    this.stored = run.reverse();
    this.noiseStored = this.stored.filter((s) => isNoiseRecord(s.record)).length;
    if (head) {
      let next = (head.pos + 1) % this.capacity;
      if (next % this.sector !== 0 && dirty.has(next)) next = (Math.floor(next / this.sector) + 1) * this.sector % this.capacity;
      this.writePos = next;
    } else {
      // Nothing usable: start over at a sector boundary that will be erased before use.
      this.writePos = 0;
    }
  }

  private pickChained(a: Stored, b: Stored, byIndex: Map<number, Stored>): Stored {
    const prevChain = a.record.index === 0 ? this.genesis : byIndex.get(a.record.index - 1)?.record.chain;
    if (prevChain && this.verifies(prevChain, b.record)) return b;
    return a;
  }

  private verifies(prevChain: Uint8Array, r: EventRecord): boolean {
    return equalBytes(chainEvent(prevChain, r, this.provider).chain, r.chain);
  }

  /** Index the next record will get. */
  get nextIndex(): number {
    const last = this.stored[this.stored.length - 1];
    return last ? last.record.index + 1 : 0;
  }

  get oldestIndex(): number {
    return this.stored[0]?.record.index ?? this.nextIndex;
  }

  get length(): number {
    return this.stored.length;
  }

  /** Newest record's index and chain value (what a receipt signs), or null when empty. */
  get head(): { index: number; chain: Uint8Array } | null {
    const last = this.stored[this.stored.length - 1];
    return last ? { index: last.record.index, chain: last.record.chain } : null;
  }

  /** Chain value before record `index` (genesis for 0), when that record or its predecessor is kept. */
  chainBefore(index: number): Uint8Array | null {
    if (index === 0) return this.genesis;
    const prev = this.find(index - 1);
    return prev ? prev.chain : null;
  }

  private find(index: number): EventRecord | null {
    const first = this.oldestIndex;
    const s = this.stored[index - first];
    return s && s.record.index === index ? s.record : null;
  }

  append(e: NewEvent): EventRecord {
    const last = this.stored[this.stored.length - 1];
    const record = chainEvent(last ? last.record.chain : this.genesis, {
      index: this.nextIndex,
      time: Math.max(0, Math.floor(e.time)),
      type: e.type,
      kind: e.kind ?? 0,
      reason: e.reason ?? 'none',
      holder: e.holder ?? 0,
      detail: e.detail ?? 0,
    }, this.provider);
    const pos = this.writePos;
    if (pos % this.sector === 0) {
      // The sector about to be erased holds the records written one lap ago, the oldest ones: a
      // prefix of `stored`, so dropping them is a splice, not a scan of the whole log. (Cells
      // skipped after a torn write are never old records: entering a sector erased all of it.)
      const k = this.inSector(pos);
      if (k > 0) {
        for (const s of this.stored.splice(0, k)) if (isNoiseRecord(s.record)) this.noiseStored--;
      }
      this.flash.erase('events', pos * EVENT_RECORD_BYTES, this.sector * EVENT_RECORD_BYTES);
    }
    this.flash.program('events', pos * EVENT_RECORD_BYTES, encodeEvent(record));
    this.stored.push({ record, pos });
    if (isNoiseRecord(record)) this.noiseStored++;
    this.writePos = (pos + 1) % this.capacity;
    return record;
  }

  /** How many of the oldest kept records lie in the sector starting at `pos` (a prefix of `stored`). */
  private inSector(pos: number): number {
    let k = 0;
    while (k < this.stored.length && this.stored[k]!.pos >= pos && this.stored[k]!.pos < pos + this.sector) k++;
    return k;
  }

  /**
   * Append an unauthenticated-noise record (`isNoiseRecord`), or refuse (null, nothing written)
   * when that would erase a record that is not noise, or when the log already holds one erase
   * sector's worth of noise records. Access records always go in through `append`.
   */
  appendNoise(e: NewEvent): EventRecord | null {
    let freed = 0;
    if (this.writePos % this.sector === 0) {
      const k = this.inSector(this.writePos);
      for (let i = 0; i < k; i++) {
        if (!isNoiseRecord(this.stored[i]!.record)) return null;
        freed++;
      }
    }
    if (this.noiseStored - freed >= this.sector) return null;
    return this.append(e);
  }

  /** Noise records in the log now. */
  get noiseRecords(): number {
    return this.noiseStored;
  }

  /** Records with index >= `from` (from the oldest kept if `from` is older), at most `max`. */
  read(from: number, max: number): EventRecord[] {
    const first = this.oldestIndex;
    const start = Math.max(0, from - first);
    return this.stored.slice(start, start + Math.max(0, max)).map((s) => s.record);
  }

  /** The newest `n` records, oldest first. */
  tail(n: number): EventRecord[] {
    return this.stored.slice(Math.max(0, this.stored.length - n)).map((s) => s.record);
  }
}
