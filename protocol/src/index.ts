/**
 * @latchkit/protocol — signed, compact, lock-encrypted credential sets for offline locks.
 * Pure and isomorphic: no Node APIs; platform speed-ups are injected (see ./crypto.ts).
 * The wire format is specified in PROTOCOL.md at the repository root.
 */
export * from './errors.js';
export * from './types.js';
export * from './bytes.js';
export * from './cbor.js';
export * from './crypto.js';
export * from './cose.js';
export * from './set.js';
export * from './credentials.js';
export * from './delta.js';
export * from './entry-digest.js';
export * from './messages.js';
export * from './events.js';
export * from './gatt.js';
export * from './fast.js';
