import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { fixture, resident } from './helpers.js';

describe('activity of denied unlocks', () => {
  it('names the holder of a credential the lock matched but refused, and nobody for an unknown one', () => {
    const f = fixture();
    const p = resident(f).person;
    const at = f.clock.t;
    g.recordLockEvents(f.db, f.lobby.id, [
      { at, holder: p.holderRef, credentialKind: 'doorcode', result: 'denied', reason: 'expired', lockSeq: 1 },
      { at: at + 1, holder: p.holderRef, credentialKind: 'keycard', result: 'denied', reason: 'notYetValid', lockSeq: 2 },
      { at: at + 2, holder: p.holderRef, credentialKind: 'daily', result: 'denied', reason: 'outsideSchedule', lockSeq: 3 },
      { at: at + 3, holder: null, credentialKind: 'doorcode', result: 'denied', reason: 'unknownCredential', lockSeq: 4 },
      { at: at + 4, holder: p.holderRef, credentialKind: 'phone', result: 'granted', lockSeq: 5 },
    ]);
    const msgs = g.listActivity(f.db, f.prop.id, { kind: 'unlock' }).map((e) => [e.holderName, e.message]);
    expect(msgs).toEqual([
      ['Jane Doe', 'unlocked Lobby (Jane Doe, phone)'],
      [null, 'denied Lobby (unknown credential, doorcode: unknownCredential)'],
      ['Jane Doe', 'denied Lobby: out-of-schedule daily doorcode of Jane Doe'],
      ['Jane Doe', 'denied Lobby: not yet valid keycard of Jane Doe'],
      ['Jane Doe', 'denied Lobby: expired doorcode of Jane Doe'],
    ]);
  });
});
