/**
 * What the conformance cases are made of: the case type, and the steps several cases share
 * (the next set to send, byte tampering at named offsets, part of a bulk transfer, a resumed
 * commit, a refused answer). ./cases.ts lists the cases themselves.
 */
import type { BulkProgress, ControlResponse, IssuedSet, SigningKey } from '@latchkit/protocol';
import { bulkChunkSize, checkStatus, decodeBulkProgress, encodeBulkBegin, equalBytes, ProtocolError, transferId } from '@latchkit/protocol';
import { SimulatorError } from '../errors.js';
import { caseFailed, resultName, type CaseContext } from './runner.js';

export interface ConformanceCase {
  /** Stable id, `group.name`. */
  id: string;
  /** One line: what a conforming lock does. */
  title: string;
  /** The PROTOCOL.md section the case checks. */
  section: string;
  /** Cases that must have passed first (else this one is skipped, saying which). */
  needs?: string[];
  /** Steps for a person; set on cases that need the target's bench hooks to run automatically. */
  manual?: string[];
  /** Extra time-out beyond the per-case one (a case that has to wait out a lifetime). */
  extraTimeMs?: (ctx: CaseContext) => number;
  /** Resolves with what the lock answered; fails through `caseFailed` or any error. */
  run(ctx: CaseContext): Promise<string>;
}

export const SETS = ['commission.accepted', 'sync.full-set'];

/** A fresh full set one version and one sequence past what the lock holds. */
export function nextFull(ctx: CaseContext, o: { seqDelta?: number; issuedAt?: number } = {}): IssuedSet & { version: number } {
  const version = ctx.held.version + 1;
  const seq = ctx.held.seq + (o.seqDelta ?? 1);
  return { ...ctx.issuer.full(seq, ctx.issuer.specs(version), o.issuedAt ?? ctx.now), version };
}

export async function acceptNextFull(ctx: CaseContext): Promise<string> {
  const set = nextFull(ctx);
  return ctx.expectAccepted(set.bytes, set);
}

/** A copy of `bytes` with the low bit of one byte flipped; a negative offset counts from the end. */
export function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  const i = at < 0 ? bytes.length + at : at;
  out[i] = out[i]! ^ 0x01;
  return out;
}

/** A byte inside the 64-byte signature that ends every signed message. */
export const SIGNATURE_BYTE_FROM_END = -20;

/**
 * Offsets inside a set message (PROTOCOL.md §3.2, §3.4): the claims payload follows a 21-byte
 * prefix and its bstr head, and opens `a5|a6 03 48 <aud 8> 06 1a <iat 4>`; the sealed body is the
 * last claim, followed by `58 40 <signature 64>`.
 */
export function layout(message: Uint8Array): { payload: number; bodyEnd: number; signature: number } {
  const head = message[21]!;
  const headBytes = head === 0x58 ? 2 : head === 0x59 ? 3 : head === 0x5a ? 5 : 1;
  return { payload: 21 + headBytes, bodyEnd: message.length - 66, signature: message.length - 64 };
}

export interface Tamper {
  what: string;
  /** Offset of the byte whose low bit is flipped. */
  at: number;
  /** The code the first failing check of §6 gives. */
  code: string;
}

/** One tamper class: a fresh valid full set, each listed byte flipped in turn, each refused with its code. */
export function tamperCase(id: string, title: string, section: string, tampers: (message: Uint8Array, plainBodyBytes: number) => Tamper[]): ConformanceCase {
  return setCase(id, title, section, async (ctx) => {
    const set = nextFull(ctx);
    const seen: string[] = [];
    for (const t of tampers(set.bytes, set.body.length)) {
      try {
        await ctx.expectRefused(flip(set.bytes, t.at), t.code);
      } catch (err) {
        if (err instanceof SimulatorError && err.code === 'CONFORMANCE_FAILED') caseFailed(`${t.what} (byte ${t.at}): ${err.message}`);
        throw err;
      }
      seen.push(`${t.what}: ${t.code}`);
    }
    return `refused, lock unchanged: ${seen.join('; ')}`;
  });
}

/** A case that needs a commissioned lock holding a set the runner sent. */
function setCase(id: string, title: string, section: string, run: ConformanceCase['run']): ConformanceCase {
  return { id, title, section, needs: SETS, run };
}

/** A signed message the lock must refuse with `code`, changing nothing. */
export function refusal(id: string, title: string, section: string, code: string, make: (ctx: CaseContext) => Uint8Array): ConformanceCase {
  return setCase(id, title, section, (ctx) => ctx.expectRefused(make(ctx), code));
}

/** An unlock the lock must deny with `reason`: `who` gives the phone key and the lock id it signs for. */
export function deniedUnlock(id: string, title: string, section: string, reason: string, who: (ctx: CaseContext) => [SigningKey, Uint8Array?]): ConformanceCase {
  return setCase(id, title, section, async (ctx) => {
    const { result } = await ctx.unlock(...who(ctx));
    if (resultName(result) !== reason) caseFailed(`result ${resultName(result)}, expected ${reason}`);
    return `${reason}, event ${result.eventIndex}`;
  });
}

/** Another lock id: this one with its last byte changed. */
export function otherLockId(ctx: CaseContext): Uint8Array {
  const id = ctx.lockId.slice();
  id[7] = id[7]! ^ 0xff;
  return id;
}


/**
 * Begin a bulk transfer of `message` and send about half of it (whole chunks, at least one,
 * never all); resolves with what the lock acknowledged.
 */
export async function sendAboutHalf(ctx: CaseContext, message: Uint8Array): Promise<BulkProgress> {
  const client = await ctx.client();
  const id = transferId(message, ctx.crypto);
  checkStatus(await ctx.timed(() => client.request('bulkBegin', encodeBulkBegin({ id, total: message.length }))));
  const chunk = bulkChunkSize(client.mtu);
  client.sendChunks(message, 0, Math.min(message.length - 1, Math.max(chunk, Math.floor(message.length / 2 / chunk) * chunk)));
  return decodeBulkProgress(checkStatus(await ctx.timed(() => client.request('bulkStatus'))).payload);
}

/** Push `set` again: it must resume at `from`, commit, and come back with a receipt naming it. */
export async function resumeAndCommit(ctx: CaseContext, set: IssuedSet & { version: number }, from: number, when: string): Promise<string> {
  const client = await ctx.client();
  const r = await ctx.timed(() => client.push(set.bytes));
  if (r.resumedFrom !== from) caseFailed(`${when}, the transfer resumed at ${r.resumedFrom} of ${set.bytes.length} bytes, expected ${from}`);
  const receipt = ctx.openReceipt(r.receipt);
  if (receipt.seq !== set.seq || !equalBytes(receipt.digest, set.digest)) caseFailed(`resumed and committed, but the receipt names seq ${receipt.seq}, expected ${set.seq}`);
  ctx.noteAccepted(set.bytes, set);
  return `resumed at ${from} of ${set.bytes.length} bytes and committed, receipt seq ${receipt.seq}`;
}

/** A control answer that must be a refusal with `code`. */
export function expectCode(r: ControlResponse, code: string, what: string): void {
  if (r.status === 0) caseFailed(`${what} answered status 0, expected ${code}`);
  const got = ProtocolError.fromWire(r.status).code;
  if (got !== code) caseFailed(`${what} refused with ${got}, expected ${code}`);
}

export function heldBody(ctx: CaseContext): Uint8Array {
  return ctx.held.body ?? caseFailed('the runner does not know the body the lock holds');
}

export async function acceptDelta(ctx: CaseContext): Promise<string> {
  const version = ctx.held.version + 1;
  const seq = ctx.held.seq + 1;
  const delta = ctx.issuer.delta({ seq: ctx.held.seq, body: heldBody(ctx) }, seq, ctx.issuer.specs(version), ctx.now);
  return ctx.expectAccepted(delta.bytes, { seq, digest: delta.digest, body: delta.body, version });
}
