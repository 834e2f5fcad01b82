/**
 * Real-time driving of a lock device (fleets, the interactive CLI): runs the firmware's timers
 * (auto-relock, keypad idle, daily codes at local midnight) on Node timers. Tests call
 * `firmware.tick()` themselves with a manual clock instead.
 */
import type { LockDevice } from './device.js';

/** Keep a device's timers running until the returned function is called. */
export function keepTime(device: LockDevice): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  const arm = (): void => {
    if (stopped) return;
    clearTimeout(timer);
    const fw = device.firmware;
    if (fw.isHalted) return;
    const deadline = fw.tick();
    // Node timers hold at most ~24.8 days; the next midnight is always sooner.
    const wait = Math.min(2 ** 31 - 1, Math.max(0, deadline - device.clock()));
    timer = setTimeout(arm, wait);
    timer.unref();
  };
  // Any event (a grant starts the relock timer, a keypress the idle timer) re-arms.
  const follow = (): void => {
    unsubscribe?.();
    unsubscribe = device.firmware.onEvent(() => queueMicrotask(arm));
    arm();
  };
  const offBoot = device.onBoot(follow);
  follow();
  return () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe?.();
    offBoot();
  };
}
