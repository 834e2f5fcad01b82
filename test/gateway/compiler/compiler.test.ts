/**
 * The compiler against the real store and real signatures. The lock side is played by the
 * protocol's own open functions (what the firmware runs), so every byte the compiler emits is
 * verified, decrypted and applied exactly as a lock would.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialSet, EventRecord } from '@latchkit/protocol';
import {
  chainEvent,
  deriveIndexKey,
  deviceKeysFromSeed,
  doorcodeKey,
  encodeEvents,
  fromHex,
  genesisChain,
  issueReceipt,
  openCommission,
  openSetMessage,
  ProtocolError,
} from '@latchkit/protocol';
import * as g from '../../../gateway/src/index.js';
import { acceptEvents, acceptReceipt, commissionDoor, compileDirty, lockIdentity, syncPayload } from '../../../gateway/src/compiler/index.js';
import { codeOf, fixture, resident } from '../helpers.js';

/** A lock as the firmware sees the protocol: commissioned state, current set, receipts. */
function virtualLock(lockIdHex: string, seed: number) {
  const device = deviceKeysFromSeed(new Uint8Array(32).fill(seed));
  const lockId = fromHex(lockIdHex);
  const state = { anchors: [] as Uint8Array[], contentKey: new Uint8Array(32) as Uint8Array, seq: 0, current: null as CredentialSet | null, digest: new Uint8Array(32) as Uint8Array };
  let chain = genesisChain(lockId);
  const events: EventRecord[] = [];
  return {
    device,
    lockId,
    state,
    keys: { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic },
    commission(msg: Uint8Array) {
      const c = openCommission(msg, { lockId, device, anchors: null, generation: 0 });
      state.anchors = c.anchors;
      state.contentKey = c.contentKey;
    },
    /** Apply a set or delta; returns the signed receipt. */
    apply(bytes: Uint8Array, time: number) {
      const r = openSetMessage(bytes, { lockId, anchors: state.anchors, contentKey: state.contentKey, seq: state.seq, current: state.current });
      state.seq = r.seq;
      state.current = r.set;
      state.digest = r.digest;
      return issueReceipt(device.signing, { lockId, seq: r.seq, digest: r.digest, time, eventIndex: Math.max(0, events.length - 1), eventHash: chain });
    },
    opens(code: string): boolean {
      return state.current !== null && state.current.find('doorcode', doorcodeKey(deriveIndexKey(state.contentKey, lockId), code)) >= 0;
    },
    log(holder: number, granted: boolean, time: number) {
      const e = chainEvent(chain, { index: events.length, time, type: granted ? 'granted' : 'denied', kind: 1, reason: granted ? 'none' : 'unknownCredential', holder, detail: 0 });
      chain = e.chain;
      events.push(e);
      return e;
    },
    events,
  };
}

function doorcodeOf(f: ReturnType<typeof fixture>, personId: number): string {
  return g.personDoorcode(f.db, personId)!;
}

describe('compiler', () => {
  it('compiles only commissioned doors, then deltas from the receipted sequence; a revoke works at a door only after it syncs', async () => {
    const f = fixture();
    const jane = resident(f);
    const lock = virtualLock(f.lobby.lockId, 1);
    // Not commissioned: nothing compiles, the change stays pending.
    expect(compileDirty(f.db, { ctx: f.ctx })).toEqual([]);
    lock.commission((await commissionDoor(f.db, f.lobby.id, lock.keys, { ctx: f.ctx })).message);
    const first = compileDirty(f.db, { ctx: f.ctx });
    expect(first.map((c) => c.doorId)).toEqual([f.lobby.id]);
    expect(first[0]!.delta).toBeNull();

    const p1 = (await syncPayload(f.db, f.lobby.id, 0))!;
    expect(p1.kind).toBe('full');
    const code = doorcodeOf(f, jane.person.id);
    const receipt1 = lock.apply(p1.bytes, 1_700_000_000);
    expect(lock.opens(code)).toBe(true);
    expect(acceptReceipt(f.db, f.lobby.id, receipt1, { ctx: f.ctx }).state.enforcedSeq).toBe(1);
    expect(await syncPayload(f.db, f.lobby.id, 1)).toBeNull();

    // Revoke: a new sequence with a delta from the receipted one; the door still opens for Jane.
    g.revokeAllKeys(f.db, jane.person.id, f.ctx);
    const second = compileDirty(f.db, { ctx: f.ctx });
    const lobbySet = second.find((c) => c.doorId === f.lobby.id)!;
    expect(lobbySet.seq).toBe(2);
    expect(lobbySet.delta?.baseSeq).toBe(1);
    expect(lock.opens(code)).toBe(true);
    expect(g.doorSyncTasks(f.db, f.prop.id).map((t) => t.doorId)).toContain(f.lobby.id);

    const p2 = (await syncPayload(f.db, f.lobby.id, 1))!;
    expect(p2.kind).toBe('delta');
    expect(p2.bytes.length).toBeLessThan((await syncPayload(f.db, f.lobby.id, -1, { forceFull: true }))!.bytes.length);
    const receipt2 = lock.apply(p2.bytes, 1_700_000_100);
    expect(lock.opens(code)).toBe(false);
    expect(acceptReceipt(f.db, f.lobby.id, receipt2, { ctx: f.ctx }).state.enforcedSeq).toBe(2);
    expect(g.doorSyncTasks(f.db, f.prop.id).map((t) => t.doorId)).not.toContain(f.lobby.id);
  });

  it('a lock that is not where the gateway thinks gets the full set, and a delta it cannot use is refused by it', async () => {
    const f = fixture();
    resident(f);
    const lock = virtualLock(f.lobby.lockId, 2);
    lock.commission((await commissionDoor(f.db, f.lobby.id, lock.keys, { ctx: f.ctx })).message);
    compileDirty(f.db, { ctx: f.ctx });
    acceptReceipt(f.db, f.lobby.id, lock.apply((await syncPayload(f.db, f.lobby.id, 0))!.bytes, 1_700_000_000), { ctx: f.ctx });
    resident(f, { email: 'sam@example.com', firstName: 'Sam' });
    compileDirty(f.db, { ctx: f.ctx });
    // The delta is from 1; a lock reporting 0 (e.g. replaced hardware) gets the full set.
    expect((await syncPayload(f.db, f.lobby.id, 0))!.kind).toBe('full');
    // Force the delta on a lock at 0: it refuses with the code that means "send the full set".
    const delta = (await syncPayload(f.db, f.lobby.id, 1))!;
    const fresh = virtualLock(f.lobby.lockId, 2);
    fresh.state.anchors = lock.state.anchors;
    fresh.state.contentKey = lock.state.contentKey;
    try {
      fresh.apply(delta.bytes, 1_700_000_050);
      throw new Error('delta applied to the wrong base');
    } catch (e) {
      expect((e as ProtocolError).code).toBe('DELTA_BASE_MISMATCH');
      expect((e as ProtocolError).needsFullSet).toBe(true);
    }
  });

  it('receipts from another device and forged event logs are refused', async () => {
    const f = fixture();
    const jane = resident(f);
    const lock = virtualLock(f.lobby.lockId, 3);
    lock.commission((await commissionDoor(f.db, f.lobby.id, lock.keys, { ctx: f.ctx })).message);
    compileDirty(f.db, { ctx: f.ctx });
    const receipt = lock.apply((await syncPayload(f.db, f.lobby.id, 0))!.bytes, 1_700_000_000);
    const impostor = virtualLock(f.lobby.lockId, 4);
    const forged = issueReceipt(impostor.device.signing, { lockId: lock.lockId, seq: 1, digest: lock.state.digest, time: 1, eventIndex: 0, eventHash: new Uint8Array(12) });
    expect(() => acceptReceipt(f.db, f.lobby.id, forged, { ctx: f.ctx })).toThrowError(ProtocolError);
    acceptReceipt(f.db, f.lobby.id, receipt, { ctx: f.ctx });

    const holder = jane.person.holderRef;
    lock.log(holder, true, 1_700_000_010);
    lock.log(0, false, 1_700_000_020);
    const head = () => {
      const last = lock.events[lock.events.length - 1]!;
      return { index: last.index, hash: last.chain };
    };
    const signedHead = head();
    expect(acceptEvents(f.db, f.lobby.id, encodeEvents(lock.events), signedHead, { ctx: f.ctx })).toEqual({ inserted: 2, verifiedThrough: 1 });
    // Re-upload is idempotent.
    expect(acceptEvents(f.db, f.lobby.id, encodeEvents(lock.events), signedHead, { ctx: f.ctx }).inserted).toBe(0);
    // Anyone can chain a record; only a signed head vouches for it. A forged, correctly chained
    // record after the head (or sent with an old, replayed head) is not accepted.
    const forgedRecord = chainEvent(lock.events[1]!.chain, { index: 2, time: 1_700_000_025, type: 'granted', kind: 1, reason: 'none', holder, detail: 0 });
    expect(acceptEvents(f.db, f.lobby.id, encodeEvents([...lock.events, forgedRecord]), signedHead, { ctx: f.ctx }).inserted).toBe(0);
    // A batch that does not reach its head, or whose records were edited, is refused whole.
    lock.log(holder, true, 1_700_000_030);
    const tampered = lock.events.map((e, i) => (i === 2 ? { ...e, holder: holder + 1 } : e));
    expect(() => acceptEvents(f.db, f.lobby.id, encodeEvents(tampered), head(), { ctx: f.ctx })).toThrowError(ProtocolError);
    expect(() => acceptEvents(f.db, f.lobby.id, encodeEvents([forgedRecord]), head(), { ctx: f.ctx })).toThrowError(ProtocolError);
    expect(lockIdentity(f.db, f.lobby.id)!.eventsNextIndex).toBe(2);
    // The genuine continuation, under its own signed head, still goes through.
    expect(acceptEvents(f.db, f.lobby.id, encodeEvents(lock.events), head(), { ctx: f.ctx })).toEqual({ inserted: 1, verifiedThrough: 2 });
    const unlocks = g.listActivity(f.db, f.prop.id, {}).filter((a) => a.kind === 'unlock');
    expect(unlocks.map((a) => [a.doorId, a.result, a.holderName, a.credentialKind])).toEqual(
      expect.arrayContaining([
        [f.lobby.id, 'granted', 'Jane Doe', 'doorcode'],
        [f.lobby.id, 'denied', null, 'doorcode'],
      ]),
    );
    expect(unlocks).toHaveLength(3);
    expect(unlocks.filter((a) => a.result === 'granted' && a.holderName === 'Jane Doe')).toHaveLength(2);
  });

  it('syncing requires a commissioned lock', () => {
    const f = fixture();
    expect(codeOf(() => acceptReceipt(f.db, f.gym.id, new Uint8Array(10), { ctx: f.ctx }))).toBe('LOCK_NOT_COMMISSIONED');
  });
});
