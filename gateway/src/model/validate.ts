import { GatewayError } from '../errors.js';

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeEmail(email: string): { email: string; norm: string } {
  const trimmed = email.trim();
  if (trimmed.length > 254 || !EMAIL_RE.test(trimmed)) {
    throw new GatewayError('INVALID_EMAIL', `expected an email address like name@example.com, got ${JSON.stringify(email)}`);
  }
  // Case-insensitive identity: "Jane@X.com" and "jane@x.com" are one person (seed 000: email is the identity).
  return { email: trimmed, norm: trimmed.toLowerCase() };
}

function hex(value: string, code: 'INVALID_LOCK_ID' | 'INVALID_KEYCARD_UID' | 'INVALID_PUBLIC_KEY', what: string, minBytes: number, maxBytes: number): string {
  const v = value.trim().replace(/[:\s-]/g, '').toLowerCase();
  if (!/^[0-9a-f]*$/.test(v) || v.length % 2 !== 0) {
    throw new GatewayError(code, `expected ${what} as an even number of hex digits, got ${JSON.stringify(value)}`);
  }
  const bytes = v.length / 2;
  if (bytes < minBytes || bytes > maxBytes) {
    const want = minBytes === maxBytes ? `${minBytes} bytes` : `${minBytes} to ${maxBytes} bytes`;
    throw new GatewayError(code, `expected ${what} of ${want}, got ${bytes} bytes`);
  }
  return v;
}

/** 8-byte lock id → 16 lower-case hex digits. Separators (`:`, `-`, spaces) and upper case are tolerated (CLI). */
export function normalizeLockId(value: string): string {
  return hex(value, 'INVALID_LOCK_ID', 'a lock id', 8, 8);
}

/** Exactly 16 lower-case hex digits: one spelling per lock, so two records never name one lock differently. */
const LOCK_ID_RE = /^[0-9a-f]{16}$/;

/**
 * A lock id as the HTTP API takes it: as written or refused (INVALID_LOCK_ID), with no case
 * folding, spaces, or other or mixed separators for a lenient reading to guess about. Returns
 * the 16 hex digits.
 */
export function requireCanonicalLockId(value: string): string {
  if (typeof value !== 'string' || !LOCK_ID_RE.test(value)) {
    throw new GatewayError(
      'INVALID_LOCK_ID',
      `expected a lock id as 16 lower-case hex digits, got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 64) : value)}`,
    );
  }
  return value;
}

/** Keycard UIDs are 4, 7 or 10 bytes (ISO 14443 single/double/triple size); 4..10 accepted. */
export function normalizeKeycardUid(value: string): string {
  return hex(value, 'INVALID_KEYCARD_UID', 'a keycard UID', 4, 10);
}

export function normalizePublicKey(value: string): string {
  return hex(value, 'INVALID_PUBLIC_KEY', 'an Ed25519 public key', 32, 32);
}

/** C0 and C1 control characters, DEL, and the line and paragraph separators U+2028/U+2029. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** With the u flag, a surrogate pair is one code point outside this range: only lone halves match. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Why `value` may not be a name (a control character, a lone surrogate), or null. */
export function nameTextProblem(value: string): string | null {
  if (LONE_SURROGATE.test(value)) return 'a lone UTF-16 surrogate, which is not a character';
  const m = CONTROL.exec(value);
  if (m) return `the control character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  return null;
}

/**
 * A name (person, property, unit, door, key, token): 1 to 200 characters after trimming, and no
 * control characters anywhere, not even ones trimming would drop (a newline in a name breaks
 * every list, log line and CSV export it appears in).
 */
export function requireName(value: string, what: string): string {
  const problem = nameTextProblem(value);
  if (problem !== null) throw new GatewayError('INVALID_TEXT', `${what} must not contain ${problem}`);
  const v = value.trim();
  if (v.length === 0 || v.length > 200) {
    throw new GatewayError('INVALID_ARGUMENT', `${what} must be 1 to 200 characters, got ${v.length}`);
  }
  return v;
}

/** A validity window in Unix minutes; null = open on that side. */
export function checkWindow(start: number | null, end: number | null): void {
  if (start !== null && !Number.isSafeInteger(start)) throw new GatewayError('INVALID_WINDOW', `start must be an integer minute, got ${start}`);
  if (end !== null && !Number.isSafeInteger(end)) throw new GatewayError('INVALID_WINDOW', `expiration must be an integer minute, got ${end}`);
  if (start !== null && end !== null && start >= end) {
    throw new GatewayError('INVALID_WINDOW', `start (${new Date(start * 60_000).toISOString()}) must be before expiration (${new Date(end * 60_000).toISOString()})`);
  }
}
