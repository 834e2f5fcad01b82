import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { codeOf, drainJournal, fixture, pendingDoors, resident } from './helpers.js';

describe('keycards', () => {
  it('activate (UID normalised), one active holder per UID, deactivate frees the UID', () => {
    const f = fixture();
    const a = resident(f).person;
    const b = resident(f, { email: 'bob@example.com', firstName: 'Bob' }).person;
    const card = g.activateKeycard(f.db, a.id, '04:A1:B2:C3', f.ctx);
    expect(card.uid).toBe('04a1b2c3');
    expect(codeOf(() => g.activateKeycard(f.db, b.id, '04a1b2c3', f.ctx))).toBe('KEYCARD_IN_USE');
    g.deactivateKeycard(f.db, card.id, f.ctx);
    expect(codeOf(() => g.deactivateKeycard(f.db, card.id, f.ctx))).toBe('KEYCARD_NOT_FOUND');
    expect(g.activateKeycard(f.db, b.id, '04a1b2c3', f.ctx).personId).toBe(b.id);
    expect(g.listKeycards(f.db, a.id)).toEqual([]);
    expect(g.listKeycards(f.db, a.id, { includeInactive: true })).toHaveLength(1);
  });

  it('rejects malformed UIDs', () => {
    const f = fixture();
    const p = resident(f).person;
    for (const bad of ['04a1b2', 'zz112233', '04a1b2c', '00'.repeat(11)]) {
      expect(codeOf(() => g.activateKeycard(f.db, p.id, bad, f.ctx)), bad).toBe('INVALID_KEYCARD_UID');
    }
  });
});

describe('phone keys', () => {
  it('belong to DOOR-app users only, are unique while active, and must be 32 bytes', () => {
    const f = fixture();
    const app = resident(f).person;
    const codeOnly = resident(f, { email: 'code@example.com', accessType: 'doorcode' }).person;
    const pk = 'ab'.repeat(32);
    expect(codeOf(() => g.addPhoneKey(f.db, codeOnly.id, { publicKey: pk }, f.ctx))).toBe('NOT_APP_USER');
    const k = g.addPhoneKey(f.db, app.id, { publicKey: pk.toUpperCase(), label: 'Pixel' }, f.ctx);
    expect(k).toMatchObject({ publicKey: pk, label: 'Pixel' });
    expect(codeOf(() => g.addPhoneKey(f.db, app.id, { publicKey: pk }, f.ctx))).toBe('PHONE_KEY_IN_USE');
    expect(codeOf(() => g.addPhoneKey(f.db, app.id, { publicKey: 'ab'.repeat(33) }, f.ctx))).toBe('INVALID_PUBLIC_KEY');
    g.revokePhoneKey(f.db, k.id, f.ctx);
    expect(codeOf(() => g.revokePhoneKey(f.db, k.id, f.ctx))).toBe('PHONE_KEY_NOT_FOUND');
  });
});

describe('doorcodes', () => {
  it('reset issues a new unique code of the property length and journals the code doors only', () => {
    const f = fixture();
    const p = resident(f, { keyIds: [f.entrances.id, f.amenities.id] }).person;
    const before = g.personDoorcode(f.db, p.id);
    drainJournal(f.db);
    const r = g.resetDoorcode(f.db, p.id, f.ctx);
    expect(r.code).toMatch(/^\d{6}$/);
    expect(r.code).not.toBe(before);
    expect(g.personDoorcode(f.db, p.id)).toBe(r.code);
    // Amenities has doorcodes disabled: the gym set does not change.
    expect(r.affectedDoors).toEqual([f.lobby.id]);
    expect(pendingDoors(f.db)).toEqual([f.lobby.id]);
  });

  it('codes stay unique in a property whose code space is small', () => {
    const f = fixture();
    g.updateProperty(f.db, f.prop.id, { doorcodeLength: 4 }, f.ctx);
    const codes = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = resident(f, { email: `p${i}@example.com`, keyIds: [f.entrances.id] }).person;
      codes.add(g.personDoorcode(f.db, p.id)!);
    }
    expect(codes.size).toBe(300);
    for (const c of codes) expect(c).toMatch(/^\d{4}$/);
  });

  it('generateDoorcode finds the last free code and reports a full space', () => {
    const taken = new Set(Array.from({ length: 10_000 }, (_, i) => i.toString().padStart(4, '0')));
    taken.delete('0042');
    let calls = 0;
    const alwaysTaken = () => {
      calls++;
      return 7; // every random draw lands on a taken code
    };
    expect(g.generateDoorcode(4, (c) => taken.has(c), alwaysTaken)).toBe('0042');
    expect(calls).toBeGreaterThan(1);
    taken.add('0042');
    expect(codeOf(() => g.generateDoorcode(4, (c) => taken.has(c)))).toBe('DOORCODE_SPACE_EXHAUSTED');
  });

  it('clear withdraws the code; the daily flag toggles the daily credential', () => {
    const f = fixture();
    const p = resident(f, { keyIds: [f.entrances.id] }).person;
    g.clearDoorcode(f.db, p.id, f.ctx);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)).toEqual([]);
    expect(g.clearDoorcode(f.db, p.id, f.ctx).affectedDoors).toEqual([]);
    expect(g.setDailyDoorcode(f.db, p.id, true, f.ctx).affectedDoors).toEqual([f.lobby.id]);
    expect(g.setDailyDoorcode(f.db, p.id, true, f.ctx).affectedDoors).toEqual([]);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).map((c) => c.kind)).toEqual(['daily']);
    g.setDailyDoorcode(f.db, p.id, false, f.ctx);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)).toEqual([]);
  });
});

describe('properties, doors, units', () => {
  it('validates doors: lock id format and uniqueness, online needs a radio, in-use doors cannot be deleted', () => {
    const f = fixture();
    const add = (lockId: string, over: Partial<g.DoorInput> = {}) => g.createDoor(f.db, f.prop.id, { name: 'D', lockId, connectivity: 'offline', ...over }, f.ctx);
    expect(codeOf(() => add('00112233'))).toBe('INVALID_LOCK_ID');
    expect(codeOf(() => add('00000000000000A1'))).toBe('LOCK_ID_TAKEN');
    expect(codeOf(() => add('00000000000000c1', { connectivity: 'online' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => add('00000000000000c1', { gatewayRadio: 'gw' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => add('00000000000000c1', { unitId: 999 }))).toBe('UNIT_NOT_FOUND');
    expect(codeOf(() => g.deleteDoor(f.db, f.lobby.id))).toBe('DOOR_IN_USE');
    const spare = add('00000000000000c1');
    expect(g.updateDoor(f.db, spare.id, { connectivity: 'online', gatewayRadio: 'gw-2' })).toMatchObject({ connectivity: 'online', gatewayRadio: 'gw-2' });
    expect(g.updateDoor(f.db, spare.id, { connectivity: 'offline' })).toMatchObject({ connectivity: 'offline', gatewayRadio: null });
    g.deleteDoor(f.db, spare.id);
    expect(codeOf(() => g.getDoor(f.db, spare.id))).toBe('DOOR_NOT_FOUND');
  });

  it('changing the UTC offset marks every door; unit names are unique; deleting a unit unlinks', () => {
    const f = fixture();
    drainJournal(f.db);
    expect(g.updateProperty(f.db, f.prop.id, { utcOffsetMin: -240 }, f.ctx).affectedDoors).toHaveLength(3);
    expect(codeOf(() => g.createUnit(f.db, f.prop.id, { name: '4B' }, f.ctx))).toBe('UNIT_NAME_TAKEN');
    expect(codeOf(() => g.createProperty(f.db, { name: 'X', utcOffsetMin: 900 }, f.ctx))).toBe('INVALID_ARGUMENT');
    g.deleteUnit(f.db, f.unit4b.id);
    expect(g.getDoor(f.db, f.door4b.id).unitId).toBeNull();
    expect(g.getKey(f.db, f.key4b.id).unitId).toBeNull();
  });
});
