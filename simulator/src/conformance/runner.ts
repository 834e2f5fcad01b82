/**
 * Runs conformance cases against one target, one case after the other, and never lets a lock
 * that misbehaves stop the run: every case has a time-out, a dropped link is re-established
 * before the next case, and a case that could not even start fails with what it saw.
 *
 * The runner keeps its own model of what the lock should hold (the sequence, digest and body of
 * the last set it accepted, as its signed receipts said). After each case it reads the lock's
 * info; if the lock drifted from the model (a broken lock accepted what it should have refused)
 * it is realigned with a fresh full set, so the next case tests its own rule and not the
 * leftovers of the last one.
 */
import type { CryptoProvider, LockInfo, Receipt, SigningKey, UnlockResult } from '@latchkit/protocol';
import { DenyReason, diversifyCardKey, equalBytes, openReceipt, ProtocolError, toHex, unlockSigningInput } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { SimulatorError } from '../errors.js';
import type { LockClient } from '../phone/client.js';
import type { ConformanceCase } from './cases.js';
import { RESIDENT_DOORCODE, TestIssuer } from './issuer.js';
import type { ConformanceTarget } from './target.js';

export type CaseStatus = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  id: string;
  title: string;
  section: string;
  status: CaseStatus;
  /** What the lock answered (pass and fail), or why the case did not run (skip). */
  observed: string;
  /** Steps for a person, for a case that needs hardware access the target offers no hook for. */
  manual: string[] | null;
  wallMs: number;
  /** Modelled on-air ms (virtual radio only). */
  modelledMs: number | null;
  /** Wall-clock ms of each of the lock's answers during the case (control requests and info reads). */
  answersMs: number[];
}

export interface RunOptions {
  /** 32-byte seed of the test issuer (see ./issuer.ts); a fixed default when absent. */
  issuerSeed?: Uint8Array;
  /** Per-case time-out in wall ms (default 20,000). */
  caseTimeoutMs?: number;
  /** The lock's message limit, its flash slot (default 2 MiB, the protocol's ceiling). */
  maxMessageBytes?: number;
  /** How long the lock keeps an unlock nonce, seconds (default 30, as PROTOCOL.md §9.6 suggests). */
  nonceLifetimeS?: number;
  /**
   * The fewest records the lock's event log keeps once it has wrapped (its ring less one erase
   * sector). A log read from index 0 that starts later passes only when it returns at least that
   * many (§17 G12: the oldest were overwritten); without it, the log must start at 0.
   */
  logCapacity?: number;
  /** Called as each case starts and ends (the progress line). */
  onProgress?: (p: { index: number; total: number; id: string; result?: CaseResult }) => void;
  crypto?: CryptoProvider;
}

export interface RunReport {
  target: string;
  radio: 'virtual' | 'hci';
  lockId: string;
  startedAt: string;
  wallMs: number;
  results: CaseResult[];
  summary: { pass: number; fail: number; skip: number; automatic: number };
  /** True when at least one case passed and every automatic case passed (the exit status). */
  ok: boolean;
  /** The test issuer's public facts and the resident's credentials, for setting up the manual cases. */
  issuer: { anchor: string; residentDoorcode: string; residentPhonePublic: string; residentCard: { uid: string; key: string } };
}

const DEFAULT_SEED = new Uint8Array(32).fill(0x17);

/** Raised inside a case to fail it; `observed` is what the lock did. */
export function caseFailed(observed: string): never {
  throw new SimulatorError('CONFORMANCE_FAILED', observed);
}

/** The set the runner believes the lock enforces (from its receipts). */
export interface HeldSet {
  seq: number;
  digest: Uint8Array;
  /** The plaintext body, when the runner sent it (null after a re-commissioning dropped it). */
  body: Uint8Array | null;
  /** The set version (./issuer.ts `specs`) of the body. */
  version: number;
}

/** What a pushed signed message came to: accepted with a verified receipt, or refused with a code. */
export type PushOutcome = { accepted: true; receipt: Receipt } | { accepted: false; code: string };

/** Everything a case may use: the lock over GATT, the test issuer, and the runner's model. */
export class CaseContext {
  readonly issuer: TestIssuer;
  held: HeldSet = { seq: 0, digest: new Uint8Array(32), body: null, version: 0 };
  /** Bodies the runner has had the lock accept, by sequence (for deltas from an older base). */
  readonly bodies = new Map<number, { body: Uint8Array; version: number }>();
  /** Messages the lock accepted, oldest first (for replays). */
  readonly accepted: Uint8Array[] = [];
  /** The lock's device signing key, as its info announced it at the start of the run. */
  devicePublicKey: Uint8Array | null = null;
  /** The last verified event (index, chain), for continuing the chain across connections. */
  eventHead: { index: number; chain: Uint8Array } | null = null;
  answersMs: number[] = [];
  /** Counts cases started; a case that timed out sees a newer epoch and stops touching the lock. */
  epoch = 0;
  private connection: LockClient | null = null;
  private lastClock = 0;

  constructor(
    readonly target: ConformanceTarget,
    readonly options: Required<Pick<RunOptions, 'caseTimeoutMs' | 'maxMessageBytes' | 'nonceLifetimeS'>> & Pick<RunOptions, 'logCapacity'>,
    readonly crypto: CryptoProvider,
    issuerSeed: Uint8Array,
  ) {
    this.issuer = new TestIssuer(issuerSeed, target.lockId, crypto);
  }

  get lockId(): Uint8Array {
    return this.target.lockId;
  }

  /** The connected client, connecting (again) if the link is down. */
  async client(): Promise<LockClient> {
    if (this.connection?.connected) return this.connection;
    this.connection = null;
    this.connection = await this.target.connect(this.options.caseTimeoutMs);
    return this.connection;
  }

  /** Drop the link (from the runner's side). */
  async disconnect(): Promise<void> {
    const c = this.connection;
    this.connection = null;
    await c?.disconnect().catch(() => undefined);
  }

  /** Time an answer of the lock. */
  async timed<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.answersMs.push(Math.round((performance.now() - t0) * 10) / 10);
    }
  }

  async info(): Promise<LockInfo> {
    const client = await this.client();
    const info = await this.timed(() => client.info());
    if (!equalBytes(info.lockId, this.lockId)) caseFailed(`lock info names lock ${toHex(info.lockId)}, expected ${toHex(this.lockId)}`);
    this.lastClock = Math.max(this.lastClock, info.clock);
    return info;
  }

  /** The time to sign with: the wall clock, or the lock's clock if that is ahead (it never goes back). */
  get now(): number {
    return Math.max(Math.floor(Date.now() / 1000), this.lastClock);
  }

  /** Push a signed message over the bulk channel and commit it. Refusals come back as their code. */
  async push(message: Uint8Array): Promise<PushOutcome> {
    const client = await this.client();
    try {
      const r = await this.timed(() => client.push(message));
      return { accepted: true, receipt: this.openReceipt(r.receipt) };
    } catch (err) {
      if (err instanceof ProtocolError) return { accepted: false, code: err.code };
      throw err;
    }
  }

  /** Verify a receipt against the device key the lock announced. */
  openReceipt(bytes: Uint8Array): Receipt {
    if (!this.devicePublicKey) caseFailed('no device key known (the lock info was never read)');
    try {
      return openReceipt(bytes, { lockId: this.lockId, devicePublicKey: this.devicePublicKey, provider: this.crypto });
    } catch (err) {
      return caseFailed(`the receipt does not verify: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * A set message the lock must accept: status 0, a receipt that verifies and names the
   * message's sequence and digest. Updates the model.
   */
  async expectAccepted(message: Uint8Array, set: { seq: number; digest: Uint8Array; body: Uint8Array; version: number }): Promise<string> {
    const r = await this.push(message);
    if (!r.accepted) caseFailed(`refused with ${r.code}, expected acceptance`);
    const { receipt } = r;
    if (receipt.seq !== set.seq || !equalBytes(receipt.digest, set.digest)) {
      caseFailed(`receipt names seq ${receipt.seq} digest ${toHex(receipt.digest).slice(0, 16)}…, expected seq ${set.seq} digest ${toHex(set.digest).slice(0, 16)}…`);
    }
    this.noteAccepted(message, set);
    return `status 0, receipt seq ${receipt.seq} digest ${toHex(receipt.digest).slice(0, 16)}… verifies`;
  }

  noteAccepted(message: Uint8Array, set: { seq: number; digest: Uint8Array; body: Uint8Array; version: number }): void {
    this.held = { seq: set.seq, digest: set.digest, body: set.body, version: set.version };
    this.bodies.set(set.seq, { body: set.body, version: set.version });
    this.accepted.push(message);
  }

  /**
   * A message the lock must refuse with `code`, changing nothing: afterwards it still answers
   * (the next valid request) and its info shows the set the model says it holds.
   */
  async expectRefused(message: Uint8Array, code: string): Promise<string> {
    const r = await this.push(message);
    if (r.accepted) caseFailed(`accepted (status 0, receipt seq ${r.receipt.seq}), expected ${code}`);
    if (r.code !== code) caseFailed(`refused with ${r.code}, expected ${code}`);
    await this.expectUnchanged(`after refusing with ${code}`);
    return `refused with ${r.code}; the lock still answers and holds seq ${this.held.seq}`;
  }

  /** The lock answers a request and still enforces the set the model says. */
  async expectUnchanged(when: string): Promise<void> {
    let info: LockInfo;
    try {
      info = await this.info();
    } catch (err) {
      return caseFailed(`${when}, the lock did not answer the next request: ${describeError(err)}`);
    }
    if (info.seq !== this.held.seq || !equalBytes(info.digest, this.held.digest)) {
      caseFailed(`${when}, the lock holds seq ${info.seq} digest ${toHex(info.digest).slice(0, 16)}…, expected seq ${this.held.seq} (it changed its set)`);
    }
  }

  /** Challenge, sign with `key` over `signFor` (this lock by default), answer. */
  async unlock(key: SigningKey, signFor: Uint8Array = this.lockId): Promise<{ nonce: Uint8Array; signature: Uint8Array; result: UnlockResult }> {
    const client = await this.client();
    const nonce = await this.timed(() => client.challenge());
    const signature = this.crypto.ed25519Sign(key.seed, unlockSigningInput(signFor, nonce));
    const { result } = await this.timed(() => client.unlockWith(key.publicKey, signature, false));
    return { nonce, signature, result };
  }

  /** Answer with a given signature, with or without asking for a new challenge first. */
  async answer(key: SigningKey, signature: Uint8Array, freshChallenge: boolean): Promise<UnlockResult> {
    const client = await this.client();
    return (await this.timed(() => client.unlockWith(key.publicKey, signature, freshChallenge))).result;
  }
}

/** The deny reason of an unlock result by name ("granted" for 0). */
export function resultName(r: UnlockResult): string {
  if (r.result === 0) return 'granted';
  return Object.entries(DenyReason).find(([, v]) => v === r.result)?.[0] ?? `result ${r.result}`;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return 'code' in err ? `${String((err as { code: unknown }).code)}: ${err.message}` : err.message;
  return String(err);
}

/** Run `cases` against `target`; resolves with the report (it does not throw for failing cases). */
export async function runConformance(target: ConformanceTarget, cases: readonly ConformanceCase[], o: RunOptions = {}): Promise<RunReport> {
  const crypto = o.crypto ?? nodeCryptoProvider;
  const ctx = new CaseContext(
    target,
    {
      caseTimeoutMs: o.caseTimeoutMs ?? 20_000,
      maxMessageBytes: o.maxMessageBytes ?? 2 * 1024 * 1024,
      nonceLifetimeS: o.nonceLifetimeS ?? 30,
      ...(o.logCapacity !== undefined ? { logCapacity: o.logCapacity } : {}),
    },
    crypto,
    o.issuerSeed ?? DEFAULT_SEED,
  );
  const selected = cases;
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const results: CaseResult[] = [];
  const passed = new Set<string>();
  for (const [index, c] of selected.entries()) {
    o.onProgress?.({ index, total: selected.length, id: c.id });
    const result = await runOne(ctx, c, passed);
    if (result.status === 'pass') passed.add(c.id);
    results.push(result);
    o.onProgress?.({ index, total: selected.length, id: c.id, result });
  }
  await ctx.disconnect();
  const count = (s: CaseStatus): number => results.filter((r) => r.status === s).length;
  const automatic = results.filter((r) => r.manual === null).length;
  const summary = { pass: count('pass'), fail: count('fail'), skip: count('skip'), automatic };
  return {
    target: target.label,
    radio: target.radio,
    lockId: toHex(target.lockId),
    startedAt,
    wallMs: Math.round(performance.now() - t0),
    results,
    summary,
    issuer: {
      anchor: toHex(ctx.issuer.anchor),
      residentDoorcode: RESIDENT_DOORCODE,
      residentPhonePublic: toHex(ctx.issuer.residentPhone.publicKey),
      residentCard: { uid: toHex(ctx.issuer.residentCardUid), key: toHex(diversifyCardKey(ctx.issuer.secrets.cardMaster, ctx.issuer.residentCardUid, crypto)) },
    },
    // At least one pass: a run of nothing (or of manual cases only) proves nothing about the lock.
    ok: summary.fail === 0 && summary.pass > 0 && results.every((r) => r.status === 'pass' || r.manual !== null),
  };
}

async function runOne(ctx: CaseContext, c: ConformanceCase, passed: ReadonlySet<string>): Promise<CaseResult> {
  const base = { id: c.id, title: c.title, section: c.section, manual: null as string[] | null, modelledMs: null as number | null, answersMs: [] as number[] };
  if (c.manual && !ctx.target.hooks) return { ...base, status: 'skip', observed: 'manual: needs a person or a bench hook (steps listed)', manual: c.manual, wallMs: 0 };
  const missing = (c.needs ?? []).filter((id) => !passed.has(id));
  if (missing.length > 0) return { ...base, status: 'skip', observed: `not run: needs ${missing.join(', ')} to pass first`, wallMs: 0 };
  ctx.answersMs = [];
  ctx.epoch++;
  const t0 = performance.now();
  let status: CaseStatus;
  let observed: string;
  let modelledMs: number | null = null;
  const timeoutMs = ctx.options.caseTimeoutMs + (c.extraTimeMs?.(ctx) ?? 0);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SimulatorError('TIMEOUT', `no result within ${timeoutMs} ms`)), timeoutMs);
    });
    const m = await Promise.race([ctx.target.measure(() => c.run(abandonable(ctx))), timeout]);
    status = 'pass';
    observed = m.value;
    modelledMs = m.modelledMs === null ? null : Math.round(m.modelledMs * 10) / 10;
  } catch (err) {
    status = 'fail';
    observed = err instanceof SimulatorError && err.code === 'CONFORMANCE_FAILED' ? err.message : describeError(err);
    // Whatever state the link is in after a failure, the next case starts on a fresh one.
    await ctx.disconnect();
  } finally {
    clearTimeout(timer);
  }
  const wallMs = Math.round(performance.now() - t0);
  const answersMs = ctx.answersMs;
  await realign(ctx);
  return { ...base, status, observed, wallMs, modelledMs, answersMs };
}

/**
 * The context as one case sees it. A case that timed out keeps running in the background (a
 * promise cannot be cancelled); once the next case has started, its next use of the context
 * throws instead of talking to the lock in the middle of another case.
 */
function abandonable(ctx: CaseContext): CaseContext {
  const epoch = ctx.epoch;
  return new Proxy(ctx, {
    get(target, property, receiver) {
      if (target.epoch !== epoch) throw new SimulatorError('TIMEOUT', 'this case timed out and was abandoned');
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/**
 * If the lock no longer holds what the model says (a broken lock accepted something it should
 * have refused, or a case was cut short), bring it back to a known set with a fresh full set.
 * Best effort: a lock that cannot be reached is left for the next case to report.
 */
async function realign(ctx: CaseContext): Promise<void> {
  if (ctx.devicePublicKey === null) return;
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('realign timed out')), ctx.options.caseTimeoutMs).unref());
    await Promise.race([realignNow(ctx), timeout]);
  } catch {
    await ctx.disconnect();
  }
}

async function realignNow(ctx: CaseContext): Promise<void> {
  const info = await ctx.info();
  if (!info.commissioned) return;
  if (info.seq === ctx.held.seq && equalBytes(info.digest, ctx.held.digest)) return;
  const seq = Math.max(info.seq, ctx.held.seq) + 1;
  const version = ctx.held.version + 1;
  const set = ctx.issuer.full(seq, ctx.issuer.specs(version), ctx.now);
  const r = await ctx.push(set.bytes);
  if (r.accepted) ctx.noteAccepted(set.bytes, { seq, digest: set.digest, body: set.body, version });
}
