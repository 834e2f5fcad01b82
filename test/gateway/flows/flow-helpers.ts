import * as g from '../../../gateway/src/index.js';
import * as f from '../../../gateway/src/flows/index.js';
import { fixture, MIN } from '../helpers.js';

export { f };

/** CSV text from a header and rows (each row a list of cells, quoted only where needed). */
export function csv(header: readonly string[], rows: readonly (readonly string[])[], eol = '\n'): string {
  const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [header, ...rows].map((r) => r.map(cell).join(',')).join(eol) + eol;
}

export const HEADER = ['First Name', 'Last Name', 'Email', 'Phone', 'Unit', 'Keys'] as const;

/**
 * The model fixture (Elm Court: Lobby behind "Resident Entrances", Gym, unit 4B with its key)
 * plus what the PMS flows need: a "Resident Amenities" key, a second unit 5C with its own door
 * and key, and a simulated PMS on the fixture's clock.
 */
export function pmsFixture(opts: { mode?: f.AccessMode; automatedAccess?: boolean; excludedStatuses?: string[] } = {}) {
  const base = fixture();
  const { db, ctx, prop } = base;
  const residentAmenities = g.createKey(db, prop.id, { name: 'Resident Amenities', kind: 'communal', doorIds: [base.gym.id], mayShare: false, doorcodesDisabled: false }, ctx);
  const unit5c = g.createUnit(db, prop.id, { name: '5C' }, ctx);
  const door5c = g.createDoor(db, prop.id, { name: '5C front door', lockId: '00000000000000c5', connectivity: 'offline', unitId: unit5c.id }, ctx);
  const key5c = g.createKey(db, prop.id, { name: 'Unit 5C', kind: 'residential', doorIds: [door5c.id], mayShare: false, doorcodesDisabled: false, unitId: unit5c.id }, ctx);
  const pms = new f.SimulatedPms({ now: () => base.clock.t });
  // The tests hand the simulated PMS to runPmsSync as the adapter; the configured feed is not read.
  f.configureIntegration(
    db,
    prop.id,
    {
      feedKind: 'http',
      feedSource: 'http://127.0.0.1:1/feed',
      automatedAccess: opts.automatedAccess ?? true,
      ...(opts.mode ? { mode: opts.mode } : {}),
      ...(opts.excludedStatuses ? { excludedStatuses: opts.excludedStatuses } : {}),
    },
    ctx,
  );
  const sync = () => f.runPmsSync(db, prop.id, { adapter: pms, ctx });
  const person = (ref: string): g.Person | undefined => {
    const linked = f.personByExternalRef(db, prop.id, ref);
    return linked && g.getPerson(db, linked.id, ctx);
  };
  const keysOf = (personId: number) => g.listGrants(db, personId).filter((x) => x.sharedBy === null).map((x) => x.keyName).sort();
  const pending = () => f.listSuggestions(db, prop.id, { state: 'pending' });
  const advance = (ms: number) => {
    base.clock.t += ms;
  };
  return { ...base, residentAmenities, unit5c, door5c, key5c, pms, sync, person, keysOf, pending, advance, MIN };
}

export type PmsFixture = ReturnType<typeof pmsFixture>;

export const jane = { id: 't-100', firstName: 'Jane', lastName: 'Doe', email: 'jane@example.com', phone: '+1 555 0100', unit: '4B' };
