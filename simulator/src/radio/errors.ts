/**
 * The radio's error class: a `LatchkitError` (latchkit's one error base class) with the
 * radio's stable codes.
 */
import { LatchkitError } from '@latchkit/protocol';

/** Stable error codes. Each one is documented in simulator/RADIO.md (a test checks that). */
export const RADIO_ERROR_CODES = [
  /** `radio: 'hci'` was selected but this machine has no usable Bluetooth adapter. */
  'RADIO_NO_ADAPTER',
  /** noble or bleno could not be loaded (missing package, unexpected file layout). */
  'RADIO_STACK_UNAVAILABLE',
  /** An argument was outside what the radio accepts; the message says what was expected. */
  'RADIO_BAD_ARGUMENT',
  /** A stack did not reach `poweredOn` (or another awaited state) in time. */
  'RADIO_TIMEOUT',
  /** The link ended before the awaited operation finished. */
  'RADIO_LINK_LOST',
  /** The air or device was already closed. */
  'RADIO_CLOSED',
] as const;

export type RadioErrorCode = (typeof RADIO_ERROR_CODES)[number];

export class RadioError extends LatchkitError<RadioErrorCode> {
  constructor(code: RadioErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Describes a value for "expected X, got Y" messages without dumping large objects. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (value instanceof Uint8Array) return `${value.constructor.name} of length ${value.length}`;
  return typeof value === 'object' ? `object (${value.constructor?.name ?? 'no prototype'})` : typeof value;
}

export function badArgument(what: string, expected: string, got: unknown): RadioError {
  return new RadioError('RADIO_BAD_ARGUMENT', `${what}: expected ${expected}, got ${describe(got)}`);
}
