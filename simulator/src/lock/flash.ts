/**
 * Emulated NOR flash: the storage port of the lock firmware.
 *
 * It behaves like the part a firmware engineer writes for: erased bytes read 0xFF, programming
 * can only clear bits (new = old AND data), so writing twice without an erase corrupts data
 * instead of silently working, and every program or erase is one operation that a power cut
 * can interrupt half-way. Regions are separate address spaces: two state slots, the commit
 * record area, the event-log ring, the guard journal and the change journal (see ./storage.ts,
 * ./journal.ts and ./change-journal.ts for what lives where).
 */
import { SimulatorError, simFail } from '../errors.js';

export const FLASH_REGIONS = ['slot0', 'slot1', 'commit', 'events', 'journal', 'changes'] as const;
export type FlashRegion = (typeof FLASH_REGIONS)[number];

export interface FlashDevice {
  /** Size of a region in bytes. */
  size(region: FlashRegion): number;
  /** A copy of `length` bytes at `offset`. */
  read(region: FlashRegion, offset: number, length: number): Uint8Array;
  /** One program operation: ANDs `data` into the bytes at `offset`. */
  program(region: FlashRegion, offset: number, data: Uint8Array): void;
  /** One erase operation: sets `length` bytes at `offset` to 0xFF. */
  erase(region: FlashRegion, offset: number, length: number): void;
}

export function checkRange(flash: Pick<FlashDevice, 'size'>, region: FlashRegion, offset: number, length: number): void {
  const size = flash.size(region);
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    simFail('BAD_ARGUMENT', `flash ${region}: range ${offset}+${length} is outside 0..${size}`);
  }
}

/**
 * Flash held in memory. Regions grow only as far as they were written, so a fleet of locks
 * with 1 MiB slots costs what their sets take, not 2 MiB each.
 */
export class MemoryFlash implements FlashDevice {
  private readonly data = new Map<FlashRegion, Uint8Array>();

  constructor(private readonly sizes: Readonly<Record<FlashRegion, number>>) {}

  size(region: FlashRegion): number {
    return this.sizes[region];
  }

  private grow(region: FlashRegion, end: number): Uint8Array {
    let buf = this.data.get(region) ?? new Uint8Array(0);
    if (buf.length < end) {
      const next = new Uint8Array(Math.min(this.sizes[region], Math.max(end, buf.length * 2))).fill(0xff);
      next.set(buf);
      buf = next;
      this.data.set(region, buf);
    }
    return buf;
  }

  read(region: FlashRegion, offset: number, length: number): Uint8Array {
    checkRange(this, region, offset, length);
    const out = new Uint8Array(length).fill(0xff);
    const buf = this.data.get(region);
    if (buf && offset < buf.length) out.set(buf.subarray(offset, Math.min(buf.length, offset + length)));
    return out;
  }

  program(region: FlashRegion, offset: number, data: Uint8Array): void {
    checkRange(this, region, offset, data.length);
    const buf = this.grow(region, offset + data.length);
    for (let i = 0; i < data.length; i++) buf[offset + i]! &= data[i]!;
  }

  erase(region: FlashRegion, offset: number, length: number): void {
    checkRange(this, region, offset, length);
    const buf = this.data.get(region);
    if (buf) buf.fill(0xff, Math.min(offset, buf.length), Math.min(offset + length, buf.length));
  }

  /** Deep copy (tests snapshot flash before an operation and replay cuts from it). */
  clone(): MemoryFlash {
    const c = new MemoryFlash(this.sizes);
    for (const [r, b] of this.data) c.data.set(r, b.slice());
    return c;
  }
}

export interface PowerCutPlan {
  /** Zero-based index of the write (program or erase) during which power fails. */
  atWrite: number;
  /** Fraction of that write's bytes that reached the cells before the cut (0 = none, default 0.5). */
  torn?: number;
}

/**
 * Wraps a flash device to count writes and cut power at a chosen one. After the cut every
 * operation throws POWER_CUT: the firmware instance is dead and only a reboot from the
 * underlying flash continues, which is exactly what the power-cut tests check.
 */
export class PowerCutFlash implements FlashDevice {
  /** Writes (program + erase operations) issued so far. */
  writes = 0;
  private plan: PowerCutPlan | null = null;
  private dead = false;

  constructor(readonly inner: FlashDevice) {}

  cutAt(plan: PowerCutPlan | null): void {
    this.plan = plan;
  }

  get powered(): boolean {
    return !this.dead;
  }

  size(region: FlashRegion): number {
    return this.inner.size(region);
  }

  read(region: FlashRegion, offset: number, length: number): Uint8Array {
    this.alive();
    return this.inner.read(region, offset, length);
  }

  program(region: FlashRegion, offset: number, data: Uint8Array): void {
    this.alive();
    if (this.cutNow()) {
      const n = Math.floor(data.length * (this.plan!.torn ?? 0.5));
      if (n > 0) this.inner.program(region, offset, data.subarray(0, n));
      this.die(`program ${region}@${offset} (${n} of ${data.length} bytes written)`);
    }
    this.inner.program(region, offset, data);
  }

  erase(region: FlashRegion, offset: number, length: number): void {
    this.alive();
    if (this.cutNow()) {
      const n = Math.floor(length * (this.plan!.torn ?? 0.5));
      if (n > 0) this.inner.erase(region, offset, n);
      this.die(`erase ${region}@${offset} (${n} of ${length} bytes erased)`);
    }
    this.inner.erase(region, offset, length);
  }

  private cutNow(): boolean {
    const index = this.writes++;
    return this.plan !== null && this.plan.atWrite === index;
  }

  private die(what: string): never {
    this.dead = true;
    throw new SimulatorError('POWER_CUT', `power cut during flash write #${this.writes - 1}: ${what}`, { details: { write: this.writes - 1 } });
  }

  private alive(): void {
    if (this.dead) simFail('POWER_CUT', 'flash has no power (a cut was injected); reboot the lock from its flash');
  }
}
