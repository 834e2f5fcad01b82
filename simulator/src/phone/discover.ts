/**
 * Finding a lock by id with noble: scan for the latchkit service and match the advertised
 * local name `LK-<lock id hex>` (see ../lock/gatt-service.ts).
 */
import type { Peripheral } from '@abandonware/noble';
import { GattUuid, toHex } from '@latchkit/protocol';
import type { Noble } from '../radio/index.js';
import { simFail } from '../errors.js';
import { lockAdvertisedName } from '../lock/gatt-service.js';
import { LockClient, type LockClientOptions } from './client.js';

/** Scan until the lock advertises, then stop scanning. Rejects with LOCK_NOT_FOUND after `timeoutMs` wall time. */
export async function findLock(noble: Noble, lockId: Uint8Array, timeoutMs = 10_000): Promise<Peripheral> {
  const name = lockAdvertisedName(lockId);
  let onDiscover: ((p: Peripheral) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const found = new Promise<Peripheral>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    onDiscover = (p: Peripheral): void => {
      if (p.advertisement?.localName === name) resolve(p);
    };
    noble.on('discover', onDiscover);
  });
  // Handled here as well, so a timeout that fires while scanning starts is not "unhandled".
  found.catch(() => undefined);
  try {
    await noble.startScanningAsync([GattUuid.service], false);
    return await found;
  } catch (err) {
    if (err instanceof Error && err.message === 'timeout') {
      simFail('LOCK_NOT_FOUND', `lock ${toHex(lockId)} (advertising as ${name}) was not heard within ${timeoutMs} ms; is it in range and powered?`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    if (onDiscover) noble.removeListener('discover', onDiscover);
    await noble.stopScanningAsync().catch(() => undefined);
  }
}

/** Find a lock, connect and open its latchkit service: the start of every gateway or phone session. */
export async function connectLock(noble: Noble, lockId: Uint8Array, options: LockClientOptions & { findTimeoutMs?: number } = {}): Promise<LockClient> {
  const peripheral = await findLock(noble, lockId, options.findTimeoutMs ?? 10_000);
  await peripheral.connectAsync();
  try {
    return await LockClient.open(peripheral, options);
  } catch (err) {
    await peripheral.disconnectAsync().catch(() => undefined);
    throw err;
  }
}
