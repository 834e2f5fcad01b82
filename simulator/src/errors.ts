/**
 * Errors of the lock firmware simulator, the simulated phone and the fleet runner.
 *
 * One catalogue with stable codes, like the protocol's. `wire` is the control-point status
 * byte a lock sends when the error ends a request (PROTOCOL.md §10), so a central sees the same
 * code a program in this process would; simulator-only conditions (a power cut, a missing lock
 * directory) never reach the wire and have no status byte.
 */
import { LatchkitError, ProtocolErrorCodes } from '@latchkit/protocol';

export const SimulatorErrorCodes = {
  FLASH_CAPACITY: {
    wire: ProtocolErrorCodes.CAPACITY_EXCEEDED.wire,
    summary: 'the set does not fit this device profile flash slot; the old set stays in force',
  },
  POWER_CUT: { wire: null, summary: 'simulated power cut during a flash write; the lock must be rebooted from flash' },
  LOCK_NOT_FOUND: { wire: null, summary: 'no lock state directory, or no lock with this id in range' },
  LOCK_IN_USE: { wire: null, summary: 'the lock directory is held by a running process (lock.pid names it); nothing was changed' },
  LOCK_HALTED: { wire: null, summary: 'the lock lost power (power cut) and must be rebooted before use' },
  BAD_ARGUMENT: { wire: ProtocolErrorCodes.INVALID_ARGUMENT.wire, summary: 'an API or file argument has the wrong type, length or range' },
  BAD_PROPERTY_FILE: { wire: null, summary: 'the property description file does not follow the documented schema' },
  NOT_CONNECTED: { wire: null, summary: 'the central is not connected to the lock, or the link dropped mid-operation' },
  TIMEOUT: { wire: null, summary: 'the lock did not answer a control-point request in time' },
  TRANSFER_STALLED: { wire: null, summary: 'a bulk transfer made no progress after repeated resumes' },
  CONFORMANCE_FAILED: { wire: null, summary: 'a conformance case failed (the message says what the lock did), or a run had failing cases' },
} as const;

export type SimulatorErrorCode = keyof typeof SimulatorErrorCodes;

export class SimulatorError extends LatchkitError<SimulatorErrorCode> {
  /** Control-point status byte for this code, or null when it never travels over the air. */
  get wire(): number | null {
    return SimulatorErrorCodes[this.code].wire;
  }
}

export function simFail(code: SimulatorErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new SimulatorError(code, message, details === undefined ? undefined : { details });
}

/** "expected X, got Y" for API-edge checks, without dumping large values. */
export function badArgument(what: string, expected: string, got: unknown): SimulatorError {
  let shown: string;
  if (got === null || got === undefined) shown = String(got);
  else if (typeof got === 'string') shown = JSON.stringify(got.length > 40 ? `${got.slice(0, 40)}…` : got);
  else if (got instanceof Uint8Array) shown = `Uint8Array of length ${got.length}`;
  else if (Array.isArray(got)) shown = `array of length ${got.length}`;
  else if (typeof got === 'object') shown = 'an object';
  else shown = String(got);
  return new SimulatorError('BAD_ARGUMENT', `${what}: expected ${expected}, got ${shown}`);
}
