/**
 * Locks a central has been to (PROTOCOL.md §9.8): their address and attribute handles, so the
 * next connection goes straight to the address with no scan and no discovery. Used by the
 * resident's phone and by the gateway.
 */
import type { Peripheral } from '@abandonware/noble';
import { equalBytes, toHex } from '@latchkit/protocol';
import type { Noble } from '../radio/index.js';
import { LockClient, type LockClientOptions, type LockHandles } from './client.js';
import { findLock } from './discover.js';

interface KnownLock {
  peripheral: Peripheral;
  handles: LockHandles;
  layout: Uint8Array;
}

export interface KnownConnection<T> {
  client: LockClient;
  /** What `first` answered (null when it was not sent on this link). */
  first: T | null;
  /** The lock had to be found by scanning (not remembered). */
  scanned: boolean;
  /** Cached handles were used (no discovery). */
  cached: boolean;
  /** Modelled (or wall) time the connection attempt started, after any scan. */
  connectStartedAt: number;
}

/** Remembered locks of one central, by lock id. */
export class KnownLocks {
  private readonly byId = new Map<string, KnownLock>();

  constructor(private readonly now: () => number) {}

  has(lockId: Uint8Array): boolean {
    return this.byId.has(toHex(lockId));
  }

  forget(lockId: Uint8Array): void {
    this.byId.delete(toHex(lockId));
  }

  /**
   * Remember the lock behind a client that discovered its service (reads the layout hash). A lock
   * without the layout characteristic (firmware before §9.8) is not remembered.
   */
  async remember(lockId: Uint8Array, client: LockClient): Promise<void> {
    const hex = toHex(lockId);
    if (this.byId.has(hex)) return;
    const handles = client.discoveredHandles();
    if (handles) this.byId.set(hex, { peripheral: client.peripheral, handles, layout: await client.readLayout(handles.layout) });
  }

  /**
   * Connect to a lock and open its service. A remembered lock is connected by address and its
   * cached handles are used; `first` (which must write its request at once, e.g.
   * `unlockTicketWith`) goes out in the same connection event as the layout hash read. If the
   * layout moved, the answer is dropped, the handles forgotten, the service discovered on the
   * same link and `first` is not repeated (the caller continues on the classic path).
   * A lock not remembered is found by scanning and discovered; `remember` it once the urgent
   * work is done (it costs a read).
   */
  async connect<T>(noble: Noble, lockId: Uint8Array, options: LockClientOptions & { findTimeoutMs?: number }, first?: (client: LockClient) => Promise<T>): Promise<KnownConnection<T>> {
    const hex = toHex(lockId);
    let known = this.byId.get(hex);
    let peripheral: Peripheral = known ? known.peripheral : await findLock(noble, lockId, options.findTimeoutMs ?? 10_000);
    let connectStartedAt = this.now();
    try {
      await peripheral.connectAsync();
    } catch (err) {
      if (!known) throw err;
      // Nothing answers at the remembered address (the lock was replaced, or something else
      // claims its id now): forget it and find the lock by scanning, as on a first visit.
      this.byId.delete(hex);
      known = undefined;
      peripheral = await findLock(noble, lockId, options.findTimeoutMs ?? 10_000);
      connectStartedAt = this.now();
      await peripheral.connectAsync();
    }
    try {
      if (!known) {
        const client = await LockClient.open(peripheral, options);
        return { client, first: null, scanned: true, cached: false, connectStartedAt };
      }
      let client = LockClient.fromHandles(peripheral, known.handles, options);
      const answer = first ? first(client) : null;
      answer?.catch(() => undefined);
      const layout = await client.readLayout(known.handles.layout).catch(() => new Uint8Array(0));
      if (equalBytes(layout, known.layout)) return { client, first: answer ? await answer : null, scanned: false, cached: true, connectStartedAt };
      // The handles moved (a firmware update): forget them, discover on this link.
      client.abandon();
      this.byId.delete(hex);
      client = await LockClient.open(peripheral, options);
      return { client, first: null, scanned: false, cached: false, connectStartedAt };
    } catch (err) {
      await peripheral.disconnectAsync().catch(() => undefined);
      throw err;
    }
  }
}
