/**
 * One error base class for all of latchkit, with stable codes.
 *
 * `code` is the stable string a program matches on; `wire` is the byte a lock puts in a
 * control-point response status (PROTOCOL.md §9). Both are frozen once released: add codes,
 * never renumber. Other packages extend `LatchkitError` with their own codes.
 */

export const ProtocolErrorCodes = {
  MALFORMED: { wire: 0x01, summary: 'bytes do not follow the format (bad structure, field, order or value)' },
  TRUNCATED: { wire: 0x02, summary: 'input ended before the structure was complete' },
  OVERSIZE: { wire: 0x03, summary: 'input or a field is larger than the limit for it' },
  UNSUPPORTED_VERSION: { wire: 0x04, summary: 'format version or message type this implementation does not know' },
  UNSUPPORTED_ALGORITHM: { wire: 0x05, summary: 'COSE alg is not Ed25519 (-19) or EdDSA (-8)' },
  UNKNOWN_KEY_ID: { wire: 0x06, summary: 'kid does not name a trusted issuer key' },
  BAD_SIGNATURE: { wire: 0x07, summary: 'signature does not verify' },
  WRONG_LOCK: { wire: 0x08, summary: 'message is addressed to another lock' },
  STALE_SEQUENCE: { wire: 0x09, summary: 'sequence is not newer than the one the lock holds (rollback or replay)' },
  DELTA_BASE_MISMATCH: { wire: 0x0a, summary: 'delta does not start from the set the lock holds; send the full set' },
  DIGEST_MISMATCH: { wire: 0x0b, summary: 'resulting set digest differs from the signed one; send the full set' },
  DECRYPTION_FAILED: { wire: 0x0c, summary: 'AEAD authentication failed (wrong content key or tampered ciphertext)' },
  DUPLICATE_CREDENTIAL: { wire: 0x0d, summary: 'two credentials of one kind have the same key in one set' },
  INVALID_ARGUMENT: { wire: 0x0e, summary: 'an API argument has the wrong type, length or range' },
  NOT_COMMISSIONED: { wire: 0x0f, summary: 'lock has no trust anchors yet; commission it first (raised by the lock)' },
  ALREADY_COMMISSIONED: { wire: 0x10, summary: 'lock refuses to be commissioned again in its current mode (raised by the lock)' },
  TRANSFER_INCOMPLETE: { wire: 0x11, summary: 'bulk transfer committed before all bytes arrived' },
  TRANSFER_UNKNOWN: { wire: 0x12, summary: 'bulk chunk or commit without a matching transfer' },
  UNKNOWN_OPCODE: { wire: 0x13, summary: 'control-point opcode not known' },
  // 0x14 is unassigned: a stale unlock answer is an access decision, reported as deny reason
  // staleNonce with status 0 (PROTOCOL.md §9), not as a protocol error.
  CAPACITY_EXCEEDED: { wire: 0x15, summary: 'set does not fit the lock flash or a table limit' },
  BUSY: { wire: 0x16, summary: 'lock is busy with another operation; retry (raised by the lock)' },
  SIGNER_FAILED: { wire: 0x17, summary: 'the issuer signer (KMS, HSM, signing process) failed, or answered with a signature that does not verify' },
} as const;

export type ProtocolErrorCode = keyof typeof ProtocolErrorCodes;

/** Base class of every latchkit error. Subclasses add their own code catalogue. */
export class LatchkitError<C extends string = string> extends Error {
  readonly code: C;
  /** Extra structured facts for programs (e.g. `{ expected: 32, got: 33 }`). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
}

/** Errors raised by @latchkit/protocol: codecs, signatures, sets, deltas, framing. */
export class ProtocolError extends LatchkitError<ProtocolErrorCode> {
  /** Status byte used on the wire for this code. */
  get wire(): number {
    return ProtocolErrorCodes[this.code].wire;
  }

  /** True when the sender should fall back to sending the full set. */
  get needsFullSet(): boolean {
    return this.code === 'DELTA_BASE_MISMATCH' || this.code === 'DIGEST_MISMATCH';
  }

  static fromWire(wire: number, message?: string): ProtocolError {
    for (const [code, info] of Object.entries(ProtocolErrorCodes)) {
      if (info.wire === wire) {
        return new ProtocolError(code as ProtocolErrorCode, message ?? info.summary);
      }
    }
    return new ProtocolError('MALFORMED', `unknown error status 0x${wire.toString(16)}`);
  }
}

export function fail(code: ProtocolErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): never {
  throw new ProtocolError(code, message, { ...(details === undefined ? {} : { details }), ...(cause === undefined ? {} : { cause }) });
}
