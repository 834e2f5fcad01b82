/** Fault descriptions accepted by `Air.injectFault`, and the handle it returns. */
import { badArgument } from './errors.js';

export type Direction = 'central-to-peripheral' | 'peripheral-to-central' | 'both';

/** A device object returned by the air, or its address. */
export type DeviceRef = { readonly address: string } | string;

export type Fault =
  /**
   * The link is lost when the ACL payload bytes carried in `direction` (default both) would pass
   * `byte`: the PDU holding byte number `byte` (0-based) is never delivered. One-shot.
   */
  | { kind: 'drop-at-byte'; central?: DeviceRef; peripheral?: DeviceRef; byte: number; direction?: Direction }
  /** The link is lost `afterMs` modelled ms after it was established (checked at each exchange). One-shot. */
  | { kind: 'drop-at-time'; central?: DeviceRef; peripheral?: DeviceRef; afterMs: number }
  /** The two devices stop hearing each other until the fault is cancelled. */
  | { kind: 'out-of-range'; central: DeviceRef; peripheral: DeviceRef }
  /**
   * A sleeping lock: it advertises every `advertisingIntervalMs` (default 2000) and answers its
   * first connection `wakeMs` (default 1000) late. With `untilConnected` (default true) it wakes
   * for good on that first connection.
   */
  | { kind: 'sleep'; peripheral: DeviceRef; advertisingIntervalMs?: number; wakeMs?: number; untilConnected?: boolean }
  /**
   * Each exchange on matching links (and each advertising event a matching scanner listens to)
   * is lost with probability `rate`; a lost exchange is sent again at the next connection event.
   * The link ends when nothing gets through for the supervision timeout, or after
   * `linkLossAfter` consecutive losses. Lasts until cancelled.
   */
  | { kind: 'packet-loss'; central?: DeviceRef; peripheral?: DeviceRef; rate: number; linkLossAfter?: number }
  /**
   * The next `attempts` (default 1) connection attempts to the peripheral fail: the central's
   * controller reports Connection Failed to be Established (0x3E) after six connection intervals.
   */
  | { kind: 'connect-timeout'; peripheral: DeviceRef; central?: DeviceRef; attempts?: number };

export type FaultKind = Fault['kind'];

export interface FaultFiring {
  /** Modelled time (on the timeline of the link or central concerned). */
  atMs: number;
  linkId: number | undefined;
  detail: string;
}

export class FaultHandle {
  readonly firings: FaultFiring[] = [];
  private isActive = true;
  private readonly waiters: Array<(f: FaultFiring) => void> = [];

  constructor(
    readonly fault: Fault,
    private readonly onCancel: (h: FaultHandle) => void,
  ) {}

  get active(): boolean {
    return this.isActive;
  }

  /** Removes the fault (an out-of-range pair comes back into range). */
  cancel(): void {
    if (!this.isActive) return;
    this.isActive = false;
    this.onCancel(this);
  }

  /** Resolves on the first firing. */
  fired(): Promise<FaultFiring> {
    const first = this.firings[0];
    if (first) return Promise.resolve(first);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** @internal */
  fire(firing: FaultFiring, deactivate: boolean): void {
    this.firings.push(firing);
    if (deactivate) this.isActive = false;
    for (const w of this.waiters.splice(0)) w(firing);
  }
}

export function validateFault(fault: Fault): void {
  if (typeof fault !== 'object' || fault === null) throw badArgument('fault', 'an object with a kind', fault);
  const nonNegative = (name: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw badArgument(`fault.${name}`, 'a finite number >= 0', v);
  };
  switch (fault.kind) {
    case 'drop-at-byte':
      if (!Number.isInteger(fault.byte) || fault.byte < 0) throw badArgument('fault.byte', 'an integer >= 0', fault.byte);
      if (fault.direction !== undefined && !['central-to-peripheral', 'peripheral-to-central', 'both'].includes(fault.direction)) {
        throw badArgument('fault.direction', '"central-to-peripheral", "peripheral-to-central" or "both"', fault.direction);
      }
      return;
    case 'drop-at-time':
      nonNegative('afterMs', fault.afterMs);
      return;
    case 'out-of-range':
      if (fault.central === undefined || fault.peripheral === undefined) throw badArgument('fault', 'central and peripheral for out-of-range', fault);
      return;
    case 'sleep':
      if (fault.peripheral === undefined) throw badArgument('fault.peripheral', 'a device', fault.peripheral);
      if (fault.advertisingIntervalMs !== undefined && (!(fault.advertisingIntervalMs >= 20) || fault.advertisingIntervalMs > 10_240)) {
        throw badArgument('fault.advertisingIntervalMs', 'a number between 20 and 10240', fault.advertisingIntervalMs);
      }
      if (fault.wakeMs !== undefined) nonNegative('wakeMs', fault.wakeMs);
      return;
    case 'packet-loss':
      if (typeof fault.rate !== 'number' || !(fault.rate >= 0 && fault.rate < 1)) throw badArgument('fault.rate', 'a number in [0, 1)', fault.rate);
      if (fault.linkLossAfter !== undefined && (!Number.isInteger(fault.linkLossAfter) || fault.linkLossAfter < 1)) {
        throw badArgument('fault.linkLossAfter', 'an integer >= 1', fault.linkLossAfter);
      }
      return;
    case 'connect-timeout':
      if (fault.peripheral === undefined) throw badArgument('fault.peripheral', 'a device', fault.peripheral);
      if (fault.attempts !== undefined && (!Number.isInteger(fault.attempts) || fault.attempts < 1)) {
        throw badArgument('fault.attempts', 'an integer >= 1', fault.attempts);
      }
      return;
    default:
      throw badArgument(
        'fault.kind',
        '"drop-at-byte", "drop-at-time", "out-of-range", "sleep", "packet-loss" or "connect-timeout"',
        (fault as { kind?: unknown }).kind,
      );
  }
}
