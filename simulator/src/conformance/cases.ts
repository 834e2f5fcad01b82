/**
 * The conformance cases: each a named check of one PROTOCOL.md rule against a lock that the
 * runner reaches only over GATT. Ids are stable (reports and CI history key on them); new cases
 * get new ids, and a case that changes meaning gets a new id too.
 *
 * Order matters and is part of the suite: commissioning first, then the sets the refusal cases
 * build on, then unlocking, time, the event log, the bench-hook cases, and last the check that
 * the lock still takes a valid set after everything before it.
 */
import { encodeBulkBegin, equalBytes, genesisChain, phoneTicketMacKey, ProtocolError, ticketMac, toHex, unlockSigningInput, verifyEventChain, type WeeklySchedule } from '@latchkit/protocol';
import { badArgument } from '../errors.js';
import { SimulatedCard } from '../lock/hardware.js';
import {
  acceptDelta,
  acceptNextFull,
  deniedUnlock,
  expectCode,
  flip,
  heldBody,
  layout,
  nextFull,
  otherLockId,
  refusal,
  resumeAndCommit,
  sendAboutHalf,
  SETS,
  SIGNATURE_BYTE_FROM_END,
  tamperCase,
  type ConformanceCase,
} from './case-builders.js';
import { LATE_HOLDER, RESIDENT_DOORCODE, RESIDENT_HOLDER } from './issuer.js';
import { caseFailed, describeError, resultName, type CaseContext } from './runner.js';

export type { ConformanceCase } from './case-builders.js';

export const CASES: readonly ConformanceCase[] = [
  {
    id: 'commission.accepted',
    title: 'a commissioning by the test issuer is accepted and the receipt verifies',
    section: '§11.1',
    async run(ctx) {
      const info = await ctx.info();
      ctx.devicePublicKey = info.deviceSigningPublic;
      // A fresh lock trusts the message's own anchor; a commissioned one needs the test issuer
      // as a current anchor and a newer generation: the time in seconds grows from run to run.
      const generation = info.commissioned ? ctx.now : 1;
      const r = await ctx.push(ctx.issuer.commission(info.deviceEncryptionPublic, ctx.now, generation));
      if (!r.accepted) {
        caseFailed(
          info.commissioned
            ? `refused with ${r.code}: the lock is already commissioned and does not trust this test issuer (see CONFORMANCE.md, "Setting up your lock")`
            : `refused with ${r.code}, expected a factory-fresh lock to accept`,
        );
      }
      const after = await ctx.info();
      if (!after.commissioned) caseFailed('status 0, but lock info still says not commissioned');
      // The set in force (if any) stays as the anti-rollback floor; a new content key empties it (§17 G11).
      ctx.held = { seq: after.seq, digest: after.digest, body: null, version: 0 };
      return `status 0 (generation ${generation}); receipt verifies, seq ${r.receipt.seq}, event head ${r.receipt.eventIndex}`;
    },
  },
  {
    id: 'sync.full-set',
    title: 'a full set is accepted; the receipt names its sequence and digest',
    section: '§6.2, §12.1',
    needs: ['commission.accepted'],
    run: acceptNextFull,
  },
  {
    id: 'sync.delta',
    title: 'a delta on the held set is accepted; the receipt names the new sequence and digest',
    section: '§4.5, §12.2',
    needs: SETS,
    run: (ctx) => acceptDelta(ctx),
  },
  {
    id: 'sync.second-delta',
    title: 'a second delta on top of the first is accepted',
    section: '§4.5, §12.2',
    needs: [...SETS, 'sync.delta'],
    run: (ctx) => acceptDelta(ctx),
  },
  {
    id: 'sync.body-digest',
    title: 'a full set and a delta named by the body digest instead of the entry digest are accepted; the receipt names that digest',
    section: '§3.4, §4.6, §4.7',
    needs: SETS,
    async run(ctx) {
      // Both forms name the same set; a lock that knows the entry digest takes either (§3.4).
      const version = ctx.held.version + 1;
      const full = ctx.issuer.full(ctx.held.seq + 1, ctx.issuer.specs(version), ctx.now, { digestForm: 'body' });
      const first = await ctx.expectAccepted(full.bytes, { ...full, version });
      const next = version + 1;
      const delta = ctx.issuer.delta({ seq: ctx.held.seq, body: heldBody(ctx) }, ctx.held.seq + 1, ctx.issuer.specs(next), ctx.now, undefined, 'body');
      const second = await ctx.expectAccepted(delta.bytes, { seq: delta.seq, digest: delta.digest, body: delta.body, version: next });
      // And back to the entry form on the next delta: the lock carries on from what it holds.
      const after = next + 1;
      const entries = ctx.issuer.delta({ seq: ctx.held.seq, body: heldBody(ctx) }, ctx.held.seq + 1, ctx.issuer.specs(after), ctx.now);
      await ctx.expectAccepted(entries.bytes, { seq: entries.seq, digest: entries.digest, body: entries.body, version: after });
      return `full set (body digest): ${first}; delta (body digest): ${second}; then an entry-digest delta on it accepted`;
    },
  },
  {
    id: 'sync.receipt-read',
    title: 'receiptRead returns a receipt that verifies and names the held set',
    section: '§11.3, §9.4',
    needs: SETS,
    async run(ctx) {
      const client = await ctx.client();
      const receipt = ctx.openReceipt(await ctx.timed(() => client.receipt()));
      if (receipt.seq !== ctx.held.seq || !equalBytes(receipt.digest, ctx.held.digest)) caseFailed(`receipt names seq ${receipt.seq}, expected ${ctx.held.seq}`);
      return `receipt verifies: seq ${receipt.seq}, digest ${toHex(receipt.digest).slice(0, 16)}…, event head ${receipt.eventIndex}`;
    },
  },
  refusal('refuse.stale-sequence', 'a full set with an older sequence is refused with STALE_SEQUENCE', '§6.2 S4', 'STALE_SEQUENCE', (ctx) => nextFull(ctx, { seqDelta: -1 }).bytes),
  {
    id: 'refuse.replay',
    title: 'the earlier full set, replayed byte for byte, is refused with STALE_SEQUENCE',
    section: '§6.2 S4',
    needs: SETS,
    run: (ctx) => ctx.expectRefused(ctx.accepted[0] ?? caseFailed('no earlier set to replay'), 'STALE_SEQUENCE'),
  },
  refusal('refuse.other-lock', 'a set addressed to another lock is refused with WRONG_LOCK', '§6.2 S1', 'WRONG_LOCK', (ctx) => {
    const version = ctx.held.version + 1;
    return ctx.issuer.full(ctx.held.seq + 1, ctx.issuer.specs(version), ctx.now, { lockId: otherLockId(ctx) }).bytes;
  }),
  {
    id: 'refuse.delta-wrong-base',
    title: 'a delta from an older base than the held set is refused with DELTA_BASE_MISMATCH',
    section: '§6.2 S5, §4.5',
    needs: [...SETS, 'sync.delta'],
    run(ctx) {
      const older = [...ctx.bodies.entries()].filter(([seq]) => seq < ctx.held.seq).pop();
      if (!older) caseFailed('no older set to build the delta from');
      const [baseSeq, base] = older;
      const specs = ctx.issuer.specs(ctx.held.version + 1);
      return ctx.expectRefused(ctx.issuer.delta({ seq: baseSeq, body: base.body }, ctx.held.seq + 1, specs, ctx.now).bytes, 'DELTA_BASE_MISMATCH');
    },
  },
  refusal('refuse.digest-mismatch', 'a delta whose signed digest differs from its result is refused with DIGEST_MISMATCH', '§6.2 S10', 'DIGEST_MISMATCH', (ctx) => {
    const specs = ctx.issuer.specs(ctx.held.version + 1);
    const wrong = new Uint8Array(32).fill(0xd1);
    return ctx.issuer.delta({ seq: ctx.held.seq, body: heldBody(ctx) }, ctx.held.seq + 1, specs, ctx.now, wrong).bytes;
  }),
  tamperCase('refuse.tamper-header', 'a set with one protected-header byte changed (alg, content type, kid) is refused with the code of that field', '§3.2, §6.1, §6.2 S2', () => [
    { what: 'alg -19 → -20', at: 5, code: 'UNSUPPORTED_ALGORITHM' },
    { what: 'content type 0xff01 → 0xff00', at: 9, code: 'UNSUPPORTED_VERSION' },
    { what: 'last kid byte', at: 19, code: 'UNKNOWN_KEY_ID' },
  ]),
  tamperCase('refuse.tamper-claims', 'a set with one claims byte changed is refused (aud: WRONG_LOCK, iat: BAD_SIGNATURE)', '§3.4, §6.2 S1, S3', (m) => [
    { what: 'last aud byte', at: layout(m).payload + 10, code: 'WRONG_LOCK' },
    { what: 'last iat byte', at: layout(m).payload + 16, code: 'BAD_SIGNATURE' },
  ]),
  tamperCase('refuse.tamper-ciphertext', 'a set with one byte of its sealed body changed (nonce, ciphertext) is refused with BAD_SIGNATURE, before decryption', '§3.5, §6.2 S3', (m, plain) => {
    const nonce = layout(m).bodyEnd - 16 - plain - 24;
    return [
      { what: 'first AEAD nonce byte', at: nonce, code: 'BAD_SIGNATURE' },
      { what: 'first ciphertext byte', at: nonce + 24, code: 'BAD_SIGNATURE' },
      { what: 'middle ciphertext byte', at: nonce + 24 + Math.floor(plain / 2), code: 'BAD_SIGNATURE' },
    ];
  }),
  tamperCase('refuse.tamper-tag', 'a set with one byte of the AEAD tag changed is refused with BAD_SIGNATURE', '§3.5, §6.2 S3', (m) => [
    { what: 'first tag byte', at: layout(m).bodyEnd - 16, code: 'BAD_SIGNATURE' },
    { what: 'last tag byte', at: layout(m).bodyEnd - 1, code: 'BAD_SIGNATURE' },
  ]),
  tamperCase('refuse.tamper-signature', 'a set with one signature byte changed (in R, in S) is refused with BAD_SIGNATURE', '§3.2, §6.2 S3', (m) => [
    { what: 'first byte of R', at: layout(m).signature, code: 'BAD_SIGNATURE' },
    { what: 'last byte of S', at: layout(m).signature + 63, code: 'BAD_SIGNATURE' },
  ]),
  refusal('refuse.wrong-content-key', 'a correctly signed set sealed under another content key is refused with DECRYPTION_FAILED', '§6.2 S7', 'DECRYPTION_FAILED', (ctx) => {
    const version = ctx.held.version + 1;
    return ctx.issuer.full(ctx.held.seq + 1, ctx.issuer.specs(version), ctx.now, { contentKey: new Uint8Array(32).fill(0xc7) }).bytes;
  }),
  refusal('refuse.unknown-issuer', 'a set signed by a key the lock does not trust is refused with UNKNOWN_KEY_ID', '§6.2 S2', 'UNKNOWN_KEY_ID', (ctx) => {
    const version = ctx.held.version + 1;
    return ctx.issuer.full(ctx.held.seq + 1, ctx.issuer.specs(version), ctx.now, { issuer: ctx.issuer.stranger }).bytes;
  }),
  {
    id: 'refuse.oversize',
    title: "a bulk transfer larger than the lock's message limit is refused at bulkBegin with OVERSIZE",
    section: '§9.7, §6.7, §13',
    needs: SETS,
    async run(ctx) {
      const client = await ctx.client();
      const total = ctx.options.maxMessageBytes + 1;
      expectCode(await ctx.timed(() => client.request('bulkBegin', encodeBulkBegin({ id: new Uint8Array(16).fill(0x0e), total }))), 'OVERSIZE', `bulkBegin of ${total} bytes`);
      await ctx.expectUnchanged('after refusing the oversize transfer');
      return `bulkBegin of ${total} bytes refused with OVERSIZE`;
    },
  },
  {
    id: 'refuse.truncated-bulk',
    title: 'committing a bulk transfer with bytes missing is refused with TRANSFER_INCOMPLETE, and the transfer is kept',
    section: '§9.7',
    needs: SETS,
    async run(ctx) {
      const set = nextFull(ctx);
      const status = await sendAboutHalf(ctx, set.bytes);
      const client = await ctx.client();
      expectCode(await ctx.timed(() => client.request('bulkCommit', status.id)), 'TRANSFER_INCOMPLETE', `bulkCommit with ${status.received} of ${set.bytes.length} bytes`);
      await ctx.expectUnchanged('after the incomplete commit');
      // The transfer is kept: the same push resumes where the lock stands and commits.
      return `TRANSFER_INCOMPLETE; ${await resumeAndCommit(ctx, set, status.received, 'after TRANSFER_INCOMPLETE')}`;
    },
  },
  {
    id: 'bulk.resume-after-drop',
    title: 'a bulk transfer cut by a dropped link resumes at the acknowledged offset on the next connection',
    section: '§9.7, §12.6',
    needs: SETS,
    async run(ctx) {
      const set = nextFull(ctx);
      const before = await sendAboutHalf(ctx, set.bytes);
      await ctx.disconnect();
      return `link dropped; ${await resumeAndCommit(ctx, set, before.received, 'on the next connection')}`;
    },
  },
  {
    id: 'unlock.granted',
    title: 'a phone key in the set is granted',
    section: '§9.6, §5.4',
    needs: SETS,
    async run(ctx) {
      const { result } = await ctx.unlock(ctx.issuer.residentPhone);
      if (result.result !== 0 || result.holder !== RESIDENT_HOLDER) caseFailed(`result ${resultName(result)} holder ${result.holder}, expected granted holder ${RESIDENT_HOLDER}`);
      return `granted, holder ${result.holder}, event ${result.eventIndex}`;
    },
  },
  deniedUnlock('unlock.unknown-key', 'a phone key in no set is refused with unknownCredential', '§9.6', 'unknownCredential', (ctx) => [ctx.issuer.unknownPhone]),
  {
    id: 'unlock.replayed-answer',
    title: 'a granted answer sent again (on the same nonce, then on a new challenge) is not granted',
    section: '§9.6, §12.4',
    needs: SETS,
    async run(ctx) {
      const key = ctx.issuer.residentPhone;
      const first = await ctx.unlock(key);
      if (first.result.result !== 0) caseFailed(`the original answer was not granted (${resultName(first.result)})`);
      const again = await ctx.answer(key, first.signature, false);
      if (resultName(again) !== 'staleNonce') caseFailed(`the same answer again, without a new challenge: ${resultName(again)}, expected staleNonce`);
      const fresh = await ctx.answer(key, first.signature, true);
      if (fresh.result === 0) caseFailed('the old answer on a new challenge was granted (the lock reused a nonce or does not check it)');
      return `same nonce: staleNonce; new challenge: ${resultName(fresh)}`;
    },
  },
  deniedUnlock('unlock.other-lock', 'an answer signed for another lock id is refused with badProof', '§5.4, §9.6', 'badProof', (ctx) => [ctx.issuer.residentPhone, otherLockId(ctx)]),
  {
    id: 'unlock.expired-nonce',
    title: "an answer sent after the nonce's lifetime is refused with staleNonce",
    section: '§9.6',
    needs: SETS,
    extraTimeMs: (ctx) => (ctx.target.hooks ? 0 : (ctx.options.nonceLifetimeS + 2) * 1000),
    async run(ctx) {
      const client = await ctx.client();
      const nonce = await ctx.timed(() => client.challenge());
      const waitMs = (ctx.options.nonceLifetimeS + 1) * 1000;
      // With a bench hook time passes for the lock at once; a real lock is simply waited for.
      if (ctx.target.hooks) ctx.target.hooks.advanceTime(waitMs);
      else await new Promise((r) => setTimeout(r, waitMs));
      const key = ctx.issuer.residentPhone;
      const result = await ctx.answer(key, ctx.crypto.ed25519Sign(key.seed, unlockSigningInput(ctx.lockId, nonce)), false);
      if (resultName(result) !== 'staleNonce') caseFailed(`answered ${waitMs / 1000} s after the challenge: ${resultName(result)}, expected staleNonce`);
      return `staleNonce after ${waitMs / 1000} s`;
    },
  },
  {
    id: 'unlock.ticket-mac',
    title: 'a ticket answered with the ticket MAC opens once; garbage, a replay and a MAC for another lock id do not, and do not spend the ticket',
    section: '§9.8',
    needs: SETS,
    async run(ctx) {
      const key = ctx.issuer.residentPhone;
      const info = await ctx.info();
      const client = await ctx.client();
      // The fast path and its ticket MAC are optional: a lock that answers UNKNOWN_OPCODE conforms.
      const optional = async <T>(what: string, f: () => Promise<T>): Promise<T | string> => {
        try {
          return await ctx.timed(f);
        } catch (err) {
          if (err instanceof ProtocolError && err.code === 'UNKNOWN_OPCODE') return `${what} not served (optional, §9.8)`;
          throw err;
        }
      };
      const slow = await ctx.unlock(key);
      if (slow.result.result !== 0) caseFailed(`the challenge unlock before the ticket was not granted (${resultName(slow.result)})`);
      const ticket = await optional('ticketIssue', () => client.issueTicket());
      if (typeof ticket === 'string') return ticket;
      const k = phoneTicketMacKey(key, ctx.lockId, info.deviceEncryptionPublic, ctx.crypto);
      const garbage = await optional('unlockTicketMac', () => client.unlockTicketMacWith(key.publicKey, new Uint8Array(16)));
      if (typeof garbage === 'string') return garbage;
      if (resultName(garbage) !== 'badProof') caseFailed(`a zero MAC under the resident's key: ${resultName(garbage)}, expected badProof`);
      const mac = ticketMac(k, ctx.lockId, ticket, ctx.crypto);
      const granted = await ctx.timed(() => client.unlockTicketMacWith(key.publicKey, mac));
      if (granted.result !== 0 || granted.holder !== RESIDENT_HOLDER) caseFailed(`the MAC over the ticket (after a zero MAC): ${resultName(granted)} holder ${granted.holder}, expected granted holder ${RESIDENT_HOLDER}`);
      if (granted.ticket === null) caseFailed('the granted MAC answer carried no next ticket');
      const replay = await ctx.timed(() => client.unlockTicketMacWith(key.publicKey, mac));
      if (resultName(replay) !== 'staleNonce') caseFailed(`the same MAC again: ${resultName(replay)}, expected staleNonce`);
      const other = await ctx.timed(() => client.unlockTicketMacWith(key.publicKey, ticketMac(k, otherLockId(ctx), granted.ticket!, ctx.crypto)));
      if (resultName(other) !== 'badProof') caseFailed(`a MAC over the next ticket for another lock id: ${resultName(other)}, expected badProof`);
      const next = await ctx.timed(() => client.unlockTicketMacWith(key.publicKey, ticketMac(k, ctx.lockId, granted.ticket!, ctx.crypto)));
      if (next.result !== 0) caseFailed(`the MAC over the next ticket (after one for another lock id): ${resultName(next)}, expected granted`);
      return `zero MAC: badProof; MAC: granted; again: staleNonce; for another lock: badProof; next ticket: granted`;
    },
  },
  {
    id: 'time.sync-accepted',
    title: "a signed time sync ahead of the lock's clock is accepted and moves the clock",
    section: '§7.2, §7.3, §6.5',
    needs: ['commission.accepted'],
    async run(ctx) {
      const before = await ctx.info();
      const iat = before.clock + 120;
      const r = await ctx.push(ctx.issuer.timeSync(iat));
      if (!r.accepted) caseFailed(`refused with ${r.code}, expected acceptance`);
      const after = await ctx.info();
      if (after.clock < iat) caseFailed(`accepted, but the clock reads ${after.clock}, before the signed ${iat}`);
      return `status 0; clock ${before.clock} → ${after.clock}`;
    },
  },
  {
    id: 'time.backwards-ignored',
    title: 'a signed time sync an hour behind the clock does not move the clock back',
    section: '§7.2',
    needs: ['commission.accepted'],
    async run(ctx) {
      const before = await ctx.info();
      const r = await ctx.push(ctx.issuer.timeSync(before.clock - 3600));
      const after = await ctx.info();
      if (after.clock < before.clock) caseFailed(`${r.accepted ? 'status 0' : r.code}; the clock went back from ${before.clock} to ${after.clock}`);
      return `${r.accepted ? 'status 0' : `refused with ${r.code}`}; clock ${before.clock} → ${after.clock}`;
    },
  },
  {
    id: 'time.unsigned-refused',
    title: 'a time sync signed by an unknown key (UNKNOWN_KEY_ID) or with a broken signature (BAD_SIGNATURE) is refused and the clock stays',
    section: '§6.5, §7',
    needs: ['commission.accepted'],
    async run(ctx) {
      const seen: string[] = [];
      for (const [what, code, message] of [
        ['signed by a stranger', 'UNKNOWN_KEY_ID', (iat: number) => ctx.issuer.timeSync(iat, { issuer: ctx.issuer.stranger })],
        ['with a broken signature', 'BAD_SIGNATURE', (iat: number) => flip(ctx.issuer.timeSync(iat), SIGNATURE_BYTE_FROM_END)],
      ] as const) {
        const before = await ctx.info();
        const iat = before.clock + 86_400;
        const r = await ctx.push(message(iat));
        const after = await ctx.info();
        if (after.clock >= iat) caseFailed(`${what}: ${r.accepted ? 'status 0' : r.code}; the clock moved to the unsigned time (${after.clock})`);
        if (r.accepted || r.code !== code) caseFailed(`${what}: ${r.accepted ? 'accepted' : `refused with ${r.code}`}, expected ${code}`);
        seen.push(`${what}: ${code}`);
      }
      return `refused, clock stays: ${seen.join('; ')}`;
    },
  },
  {
    id: 'time.future-start-opens',
    title: 'a credential whose start is in the future is refused, then opens once signed time passes its start',
    section: '§7, §4.3',
    needs: SETS,
    async run(ctx) {
      const info = await ctx.info();
      const startMinute = Math.floor(info.clock / 60) + 3;
      const version = ctx.held.version + 1;
      const late = { holder: LATE_HOLDER, kind: 'phone' as const, publicKey: ctx.issuer.latePhone.publicKey, start: startMinute, end: null, schedule: null };
      const set = { ...ctx.issuer.full(ctx.held.seq + 1, ctx.issuer.specs(version, [late]), info.clock), version };
      await ctx.expectAccepted(set.bytes, set);
      const early = await ctx.unlock(ctx.issuer.latePhone);
      if (resultName(early.result) !== 'notYetValid') caseFailed(`before its start: ${resultName(early.result)}, expected notYetValid`);
      const sync = await ctx.push(ctx.issuer.timeSync(startMinute * 60 + 30));
      if (!sync.accepted) caseFailed(`the time sync past the start was refused with ${sync.code}`);
      const later = await ctx.unlock(ctx.issuer.latePhone);
      if (later.result.result !== 0) caseFailed(`after signed time passed the start: ${resultName(later.result)}, expected granted`);
      return `notYetValid before; granted after the signed time ${startMinute * 60 + 30}`;
    },
  },
  {
    id: 'time.transition-applied',
    title: 'a time sync announcing an offset transition is accepted, and the new offset applies from its instant on',
    section: '§7.4, §3.4',
    needs: SETS,
    async run(ctx) {
      const info = await ctx.info();
      const iat = info.clock + 60;
      const at = iat + 600;
      const past = at + 60;
      const { offset, schedule } = localWindowAt(past);
      await pushScheduled(ctx, schedule, info.clock);
      const sync = await ctx.push(ctx.issuer.timeSync(iat, { transition: { at, offset } }));
      if (!sync.accepted) caseFailed(`a time sync (offset 0, transition to ${offset} at ${at}) was refused with ${sync.code}`);
      const before = await ctx.unlock(ctx.issuer.latePhone);
      if (resultName(before.result) !== 'outsideSchedule') caseFailed(`before the transition: ${resultName(before.result)}, expected outsideSchedule (offset 0 in force)`);
      // A set signed after the instant moves the clock past it (§7.2) and says nothing about the offset.
      await pushScheduled(ctx, schedule, past);
      const after = await ctx.unlock(ctx.issuer.latePhone);
      if (after.result.result !== 0) caseFailed(`once signed time passed the transition: ${resultName(after.result)}, expected granted (offset ${offset} in force)`);
      await backToUtc(ctx, past + 1);
      return `outsideSchedule at offset 0; granted past ${at} at offset ${offset}`;
    },
  },
  {
    id: 'time.replayed-offset-ignored',
    title: 'an older time sync delivered after a newer one does not change the UTC offset',
    section: '§7.4, §17 G4',
    needs: SETS,
    async run(ctx) {
      const info = await ctx.info();
      const c = info.clock;
      const { offset, schedule } = localWindowAt(c + 60);
      await pushScheduled(ctx, schedule, c);
      const older = ctx.issuer.timeSync(c + 30, { utcOffset: offset });
      const newer = await ctx.push(ctx.issuer.timeSync(c + 60));
      if (!newer.accepted) caseFailed(`the newer time sync was refused with ${newer.code}`);
      const replay = await ctx.push(older);
      const denied = await ctx.unlock(ctx.issuer.latePhone);
      const answered = replay.accepted ? 'status 0' : `refused with ${replay.code}`;
      if (resultName(denied.result) !== 'outsideSchedule') caseFailed(`older sync (offset ${offset}) ${answered}; then ${resultName(denied.result)}, expected outsideSchedule: the lock took the replayed offset`);
      // Control: the same offset in a sync newer than everything opens the door, so the denial above was the offset's.
      const fresh = await ctx.push(ctx.issuer.timeSync(c + 90, { utcOffset: offset }));
      if (!fresh.accepted) caseFailed(`a newer sync with offset ${offset} was refused with ${fresh.code}`);
      const granted = await ctx.unlock(ctx.issuer.latePhone);
      if (granted.result.result !== 0) caseFailed(`a newer sync with offset ${offset}: ${resultName(granted.result)}, expected granted (the schedule is open at that offset)`);
      await backToUtc(ctx, c + 91);
      return `older sync ${answered}, offset unchanged (outsideSchedule); a newer one with offset ${offset} grants`;
    },
  },
  {
    id: 'events.chain-verifies',
    title: 'the event log read with eventsRead chains from the genesis to the head the receipt signs',
    section: '§8.2, §12.7',
    needs: ['commission.accepted'],
    async run(ctx) {
      const client = await ctx.client();
      const receipt = ctx.openReceipt(await ctx.timed(() => client.receipt()));
      const events = await ctx.timed(() => client.readEvents(0, receipt.eventIndex + 1));
      const first = events[0]?.index ?? 0;
      // A lock may have overwritten its oldest records (§17 G12): then the chain is checked from
      // the first one it kept. That first record's own chain value is unverifiable, so a log that
      // starts late passes only when it is plausibly full (--log-capacity); otherwise a lock could
      // hide its oldest records behind a claimed wrap.
      const capacity = ctx.options.logCapacity;
      if (first !== 0 && (capacity === undefined || events.length < capacity)) {
        caseFailed(
          `records 0..${first - 1} missing: the read from index 0 starts at ${first} with ${events.length} record(s)` +
            (capacity === undefined ? ' (a log that wrapped needs --log-capacity)' : `, fewer than the ${capacity} a wrapped log keeps`),
        );
      }
      const prev = first === 0 ? genesisChain(ctx.lockId, ctx.crypto) : events[0]!.chain;
      const rest = first === 0 ? events : events.slice(1);
      try {
        verifyEventChain(prev, first === 0 ? 0 : first + 1, rest, { index: receipt.eventIndex, hash: receipt.eventHash }, ctx.crypto);
      } catch (err) {
        caseFailed(`${events.length} records from index ${first}: ${describeError(err)}`);
      }
      ctx.eventHead = { index: receipt.eventIndex, chain: receipt.eventHash };
      return `${events.length} records, index ${first}..${receipt.eventIndex}, chain verifies up to the signed head`;
    },
  },
  {
    id: 'events.no-gaps-across-reconnects',
    title: 'records read on later connections continue the verified chain with no gap',
    section: '§8.1, §8.2, §12.7',
    needs: [...SETS, 'events.chain-verifies'],
    async run(ctx) {
      const seen: string[] = [];
      for (let round = 0; round < 2; round++) {
        await ctx.disconnect();
        await ctx.unlock(ctx.issuer.residentPhone);
        const client = await ctx.client();
        const head = ctx.eventHead!;
        const receipt = ctx.openReceipt(await ctx.timed(() => client.receipt()));
        const events = await ctx.timed(() => client.readEvents(head.index + 1, receipt.eventIndex - head.index));
        if (events.length === 0) caseFailed(`round ${round + 1}: no records after index ${head.index}, though the receipt's head is ${receipt.eventIndex}`);
        if (events[0]!.index !== head.index + 1) caseFailed(`round ${round + 1}: asked from index ${head.index + 1}, the first record has index ${events[0]!.index} (a gap)`);
        try {
          verifyEventChain(head.chain, head.index + 1, events, { index: receipt.eventIndex, hash: receipt.eventHash }, ctx.crypto);
        } catch (err) {
          caseFailed(`round ${round + 1}: ${describeError(err)}`);
        }
        ctx.eventHead = { index: receipt.eventIndex, chain: receipt.eventHash };
        seen.push(`${head.index + 1}..${receipt.eventIndex}`);
      }
      return `two reconnections, records ${seen.join(' and ')} continue the chain`;
    },
  },
  {
    id: 'door.keypad',
    title: "the resident's doorcode opens, a wrong code does not",
    section: '§5.1, §8.3',
    needs: SETS,
    manual: [
      `Type ${RESIDENT_DOORCODE} and # on the keypad: the bolt retracts (granted).`,
      'Type 000000 and #: the lock refuses (denied, unknownCredential).',
      `Run \`latchkit conform --only events.chain-verifies\` again: the log shows granted (kind 1, holder ${RESIDENT_HOLDER}) then denied.`,
    ],
    async run(ctx) {
      const hooks = ctx.target.hooks!;
      const good = hooks.enterCode(RESIDENT_DOORCODE);
      if (!good.granted || good.holder !== RESIDENT_HOLDER) caseFailed(`${RESIDENT_DOORCODE}: ${good.reason}, expected granted for holder ${RESIDENT_HOLDER}`);
      const bad = hooks.enterCode('000000');
      if (bad.granted || bad.reason !== 'unknownCredential') caseFailed(`000000: ${bad.granted ? 'granted' : bad.reason}, expected unknownCredential`);
      return 'doorcode granted; wrong code unknownCredential';
    },
  },
  {
    id: 'door.keycard',
    title: "the resident's keycard opens; a clone with the right UID and another key does not",
    section: '§5.3, §12.5',
    needs: SETS,
    manual: [
      "Personalise a card with the UID and key the runner prints with --json (issuer.residentCard) and tap it: granted.",
      'Tap a card with the same UID and any other key: denied (badProof).',
    ],
    async run(ctx) {
      const hooks = ctx.target.hooks!;
      const uid = ctx.issuer.residentCardUid;
      const good = hooks.tapCard(SimulatedCard.issue(ctx.issuer.secrets.cardMaster, uid, ctx.crypto));
      if (!good.granted || good.holder !== RESIDENT_HOLDER) caseFailed(`genuine card: ${good.reason}, expected granted for holder ${RESIDENT_HOLDER}`);
      const clone = hooks.tapCard(new SimulatedCard(uid, new Uint8Array(16).fill(0x42), ctx.crypto));
      if (clone.granted || clone.reason !== 'badProof') caseFailed(`clone: ${clone.granted ? 'granted' : clone.reason}, expected badProof`);
      return 'genuine card granted; clone badProof';
    },
  },
  {
    id: 'power.cut-during-apply',
    title: 'power cut at flash writes of a set being applied: the lock boots with the old or the new set, and takes a set after',
    section: '§6.7',
    needs: SETS,
    manual: [
      'Start a set push (`latchkit conform --only sync.full-set`) and cut the lock\'s power while it applies (after bulkCommit, before the answer).',
      'Restore power; read lock info: it shows the old sequence and digest or the new ones, never a lower sequence or a zero digest.',
      'Run `latchkit conform --only robust.accepts-valid-set`: it passes.',
    ],
    async run(ctx) {
      const hooks = ctx.target.hooks!;
      const probe = nextFull(ctx);
      const writes = hooks.applyWrites(probe.bytes);
      // First, last and a spread in between: every write is a separate boot, so not all of them.
      const points = [...new Set([0, 1, Math.floor(writes / 3), Math.floor(writes / 2), Math.floor((2 * writes) / 3), writes - 2, writes - 1].filter((w) => w >= 0 && w < writes))];
      for (const atWrite of points) {
        const set = nextFull(ctx);
        const old = ctx.held;
        hooks.cutPowerDuringNextApply(atWrite);
        const outcome = await ctx.push(set.bytes).then(
          (r) => (r.accepted ? 'accepted' : r.code),
          (err: unknown) => describeError(err),
        );
        await ctx.disconnect();
        hooks.powerCycle();
        const info = await ctx.info();
        const isOld = info.seq === old.seq && equalBytes(info.digest, old.digest);
        const isNew = info.seq === set.seq && equalBytes(info.digest, set.digest);
        if (!info.commissioned || !(isOld || isNew)) {
          caseFailed(`cut at write ${atWrite} of ${writes} (push: ${outcome}): booted with seq ${info.seq}${info.commissioned ? '' : ', not commissioned'}; expected seq ${old.seq} or ${set.seq}`);
        }
        if (isNew) ctx.noteAccepted(set.bytes, set);
        const unlock = await ctx.unlock(ctx.issuer.residentPhone);
        if (unlock.result.result !== 0) caseFailed(`cut at write ${atWrite}: after the reboot the resident is ${resultName(unlock.result)}`);
      }
      await acceptNextFull(ctx);
      return `cut at writes ${points.join(', ')} of ${writes}: booted with the old or the new set each time; a set was accepted after`;
    },
  },
  {
    id: 'robust.accepts-valid-set',
    title: 'after every case before, the lock still accepts a valid full set',
    section: '§6.7',
    needs: ['commission.accepted'],
    async run(ctx) {
      if (ctx.held.body === null) {
        const info = await ctx.info();
        ctx.held = { ...ctx.held, seq: Math.max(ctx.held.seq, info.seq) };
      }
      return acceptNextFull(ctx);
    },
  },
];

/** Case ids, in suite order. */
export const CASE_IDS = CASES.map((c) => c.id);

export function findCases(ids: readonly string[]): ConformanceCase[] {
  if (ids.length === 0) throw badArgument('case ids', 'at least one case id', '(none)');
  const unknown = ids.filter((id) => !CASE_IDS.includes(id));
  if (unknown.length > 0) throw badArgument('case id', `one of ${CASE_IDS.join(', ')}`, unknown.join(', '));
  return CASES.filter((c) => ids.includes(c.id));
}

/**
 * A daily local window (every weekday, 25 minutes) around the lock's minute at `seconds` read at
 * `offset`, where the same instants at offset 0 are hours outside it: an unlock then tells which
 * offset the lock applies. Of two offsets two hours apart, one puts the window clear of midnight.
 */
function localWindowAt(seconds: number): { offset: number; schedule: WeeklySchedule } {
  for (const offset of [720, 600]) {
    const local = (((Math.floor(seconds / 60) + offset) % 1440) + 1440) % 1440;
    if (local >= 5 && local + 20 <= 1440) return { offset, schedule: { days: 0x7f, from: local - 5, to: local + 20 } };
  }
  throw new Error('unreachable: one of two offsets two hours apart fits a 25-minute window');
}

/** A set (signed at `issuedAt`) whose late phone (LATE_HOLDER) may open only inside `schedule`. */
async function pushScheduled(ctx: CaseContext, schedule: WeeklySchedule, issuedAt: number): Promise<void> {
  const version = ctx.held.version + 1;
  const scheduled = { holder: LATE_HOLDER, kind: 'phone' as const, publicKey: ctx.issuer.latePhone.publicKey, start: null, end: null, schedule };
  const set = { ...ctx.issuer.full(ctx.held.seq + 1, ctx.issuer.specs(version, [scheduled]), issuedAt), version };
  await ctx.expectAccepted(set.bytes, set);
}

/** The cases after the time ones expect UTC and no transition (what commissioning said). */
async function backToUtc(ctx: CaseContext, issuedAt: number): Promise<void> {
  const r = await ctx.push(ctx.issuer.timeSync(issuedAt));
  if (!r.accepted) caseFailed(`the time sync back to offset 0 was refused with ${r.code}`);
}
