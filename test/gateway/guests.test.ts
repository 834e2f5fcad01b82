import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { DAY, HOUR, codeOf, drainJournal, fixture, minute, pendingDoors, resident, type Fixture } from './helpers.js';

function guestOf(f: Fixture, hostId: number, over: Partial<g.GuestInviteInput> = {}) {
  return g.inviteGuest(f.db, hostId, { email: 'gus@example.com', firstName: 'Gus', lastName: 'Guest', keyIds: [f.entrances.id], ...over }, f.ctx);
}

describe('guests invited by residents', () => {
  it('a resident with may-share shares a may-share key they hold; the guest gets their own holder and credentials', () => {
    const f = fixture();
    const host = resident(f).person;
    drainJournal(f.db);
    const r = guestOf(f, host.id, { end: minute(f.clock.t + 2 * DAY) });
    expect(r.created).toBe(true);
    expect(r.guest).toMatchObject({ isResident: false, mayShare: false, accessType: 'app', status: 'active' });
    expect(r.guest.holderRef).not.toBe(host.holderRef);
    expect(r.grants).toEqual([expect.objectContaining({ keyId: f.entrances.id, sharedBy: host.id, source: 'guest' })]);
    expect(r.affectedDoors).toEqual([f.lobby.id]);
    expect(pendingDoors(f.db)).toEqual([f.lobby.id]);
    expect(g.listGuests(f.db, host.id, f.ctx).map((e) => e.guest.id)).toEqual([r.guest.id]);
  });

  it('is refused for non-residents, people without may-share, keys without may-share, keys the host lacks, and oneself', () => {
    const f = fixture();
    const staff = resident(f, { email: 'staff@example.com', isResident: false }).person;
    expect(codeOf(() => guestOf(f, staff.id))).toBe('HOST_NOT_RESIDENT');
    const noShare = resident(f, { email: 'noshare@example.com', mayShare: false }).person;
    expect(codeOf(() => guestOf(f, noShare.id))).toBe('SHARING_NOT_ALLOWED');
    const host = resident(f, { keyIds: [f.entrances.id, f.amenities.id] }).person;
    expect(codeOf(() => guestOf(f, host.id, { keyIds: [f.amenities.id] }))).toBe('KEY_NOT_SHAREABLE');
    expect(codeOf(() => guestOf(f, host.id, { keyIds: [f.key4b.id] }))).toBe('HOST_LACKS_KEY');
    expect(codeOf(() => guestOf(f, host.id, { email: 'JANE@example.com' }))).toBe('GUEST_IS_HOST');
    expect(codeOf(() => guestOf(f, host.id, { keyIds: [424242] }))).toBe('KEY_NOT_FOUND');
    expect(codeOf(() => guestOf(f, 424242))).toBe('PERSON_NOT_FOUND');
  });

  it('a host whose own grant has expired cannot share it', () => {
    const f = fixture();
    const host = resident(f, { keyIds: [f.entrances.id], end: minute(f.clock.t + HOUR) }).person;
    f.clock.t += 2 * HOUR;
    expect(codeOf(() => guestOf(f, host.id))).toBe('HOST_LACKS_KEY');
  });

  it("the guest's window is clipped to the host's grant, including later edits of the host's expiration", () => {
    const f = fixture();
    const hostEnd = minute(f.clock.t + 10 * DAY);
    const host = resident(f, { keyIds: [f.entrances.id], end: hostEnd }).person;
    const guest = guestOf(f, host.id, { start: minute(f.clock.t + DAY), end: minute(f.clock.t + 30 * DAY) }).guest;
    const win = () => g.credentialsForDoor(f.db, f.lobby.id, f.ctx).find((c) => c.holder === guest.holderRef);
    expect(win()).toMatchObject({ start: minute(f.clock.t + DAY), end: hostEnd });
    const hostGrant = g.listGrants(f.db, host.id)[0]!;
    const earlier = minute(f.clock.t + 5 * DAY);
    drainJournal(f.db);
    g.updateGrant(f.db, hostGrant.id, { end: earlier }, f.ctx);
    expect(pendingDoors(f.db)).toEqual([f.lobby.id]);
    expect(win()).toMatchObject({ end: earlier });
  });

  it('removing a key from the host removes it from their guests', () => {
    const f = fixture();
    const host = resident(f).person;
    const guest = guestOf(f, host.id, { keyIds: [f.entrances.id, f.key4b.id] }).guest;
    const entrancesGrant = g.listGrants(f.db, host.id).find((x) => x.keyId === f.entrances.id)!;
    g.removeGrant(f.db, entrancesGrant.id, f.ctx);
    expect(g.listGrants(f.db, guest.id).map((x) => x.keyId)).toEqual([f.key4b.id]);
  });

  it('turning may-share off on the key, or on the host, or making the host a non-resident withdraws shares', () => {
    const f = fixture();
    const host = resident(f).person;
    const guest = guestOf(f, host.id, { keyIds: [f.entrances.id, f.key4b.id] }).guest;
    drainJournal(f.db);
    const k = g.updateKey(f.db, f.entrances.id, { mayShare: false }, f.ctx);
    expect(k.affectedDoors).toEqual([f.lobby.id]);
    expect(g.listGrants(f.db, guest.id).map((x) => x.keyId)).toEqual([f.key4b.id]);

    g.updatePerson(f.db, host.id, { mayShare: false }, f.ctx);
    expect(g.listGrants(f.db, guest.id)).toEqual([]);

    g.updatePerson(f.db, host.id, { mayShare: true }, f.ctx);
    guestOf(f, host.id, { keyIds: [f.key4b.id] });
    g.updatePerson(f.db, host.id, { isResident: false }, f.ctx);
    expect(g.listGrants(f.db, guest.id)).toEqual([]);
  });

  it('one guest of two residents: revoking one host keeps what the other shared', () => {
    const f = fixture();
    const a = resident(f).person;
    const b = resident(f, { email: 'bob@example.com', firstName: 'Bob' }).person;
    const ga = guestOf(f, a.id, { keyIds: [f.entrances.id] });
    const gb = guestOf(f, b.id, { keyIds: [f.key4b.id] });
    expect(gb.created).toBe(false);
    expect(gb.guest.id).toBe(ga.guest.id);
    g.revokeGuest(f.db, a.id, ga.guest.id, f.ctx);
    expect(g.listGrants(f.db, ga.guest.id).map((x) => [x.keyId, x.sharedBy])).toEqual([[f.key4b.id, b.id]]);
    expect(codeOf(() => g.revokeGuest(f.db, a.id, ga.guest.id, f.ctx))).toBe('GUEST_NOT_FOUND');
    g.deletePerson(f.db, b.id, f.ctx);
    expect(g.listGrants(f.db, ga.guest.id)).toEqual([]);
  });

  it('a guest who is also a resident with their own key keeps it when the host revokes them', () => {
    const f = fixture();
    const host = resident(f).person;
    const neighbour = resident(f, { email: 'nina@example.com', firstName: 'Nina', keyIds: [f.entrances.id] }).person;
    guestOf(f, host.id, { email: 'nina@example.com', keyIds: [f.entrances.id, f.key4b.id] });
    g.revokeAllKeys(f.db, host.id, f.ctx);
    expect(g.listGrants(f.db, neighbour.id).map((x) => [x.keyId, x.sharedBy])).toEqual([[f.entrances.id, null]]);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).map((c) => c.holder)).toEqual([neighbour.holderRef]);
    expect(g.credentialsForDoor(f.db, f.door4b.id, f.ctx)).toEqual([]);
  });
});
