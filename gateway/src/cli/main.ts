import { Command, InvalidArgumentError, Option, CommanderError } from 'commander';
import { resolve } from 'node:path';
import type { Db } from '../store/db.js';
import { defaultStateDir, openStore } from '../store/db.js';
import { schemaVersion } from '../store/migrations.js';
import { GatewayError } from '../errors.js';
import { parseTimeToMinute } from '../time.js';
import * as m from '../model/index.js';
import * as v from '../views.js';
import { record, table } from './format.js';
import { registerSimulatorCommands } from '@latchkit/simulator';
import { paged, registerFlowCommands, showPage, sliced, withPaging, type PageOpts } from './flows.js';
import { dailyCodeMessages, queueDailyMessages } from '../flows/notifications.js';
import { LatchkitError } from '@latchkit/protocol';
import { changedDoors, int, intList, yesNo } from './args.js';
import { stateDirClock } from '../world/clock.js';
import { registerSimCommands } from './sim.js';
import { registerConformCommand } from './conform.js';
import { registerDemoCommand } from './demo.js';
import { registerBenchCommand } from './bench.js';
import { createRequire } from 'node:module';

// Through the package's own name (its exports list package.json), so the same line works from
// src/ in the repository and from dist/ when installed.
const { version } = createRequire(import.meta.url)('@latchkit/gateway/package.json') as { version: string };

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Resolves when `serve` should stop (default: SIGINT/SIGTERM). */
  untilStopped?: () => Promise<void>;
}

/** Closes the store a program opened, also when its action threw. */
const closers = new WeakMap<Command, () => void>();

const processIo = (): CliIo => ({
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  cwd: process.cwd(),
  env: process.env,
});


function offsetMinutes(s: string): number {
  if (!/^-?\d+$/.test(s)) throw new InvalidArgumentError(`expected whole minutes, got "${s}"`);
  return Number(s);
}

/** The zone options of property create/update as the model's input (it refuses both at once). */
function zoneOpts(o: { timeZone?: string; utcOffset?: number }): { timeZone?: string; utcOffsetMin?: number } {
  return { ...(o.timeZone !== undefined ? { timeZone: o.timeZone } : {}), ...(o.utcOffset !== undefined ? { utcOffsetMin: o.utcOffset } : {}) };
}

/** `none` clears a start or expiration; anything else is a time in the property's local zone. */
function timeOpt(value: string | undefined, zone: string, round: 'up' | 'down'): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return null;
  return parseTimeToMinute(value, zone, round);
}

/**
 * The `latchkit` command tree. Exported so other packages (the simulator's lock and fleet
 * commands) can add their own subcommands to the same program.
 */
export function buildProgram(io: CliIo = processIo()): Command {
  const program = new Command('latchkit');
  program
    .description('latchkit gateway: access database, API server and operations for a property')
    .version(version, '-V, --version', 'print the version of @latchkit/gateway')
    .option('--state-dir <dir>', 'state directory (default: $LATCHKIT_STATE_DIR or ./.latchkit)')
    .option('--json', 'print results as JSON (the HTTP API shapes)')
    .exitOverride()
    // Usage errors are reported by runCli as one line with a code, like every other failure.
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()), outputError: () => {} });

  let db: Db | undefined;
  const stateDir = (): string => {
    const o = program.opts<{ stateDir?: string }>();
    return o.stateDir ? resolve(io.cwd, o.stateDir) : defaultStateDir(io.cwd, io.env);
  };
  // The key-encryption key comes from the same environment as the state directory (KEK_REQUIRED /
  // KEK_MISMATCH when a store's sealed issuer keys cannot be opened; store/key-encryption.ts).
  const store = (): Db => (db ??= openStore({ stateDir: stateDir(), env: io.env, cwd: io.cwd }));
  const json = (): boolean => program.opts<{ json?: boolean }>().json === true;
  // A state directory a world ran on keeps the world's time (world.json), which may be ahead of
  // the wall clock: CLI changes are stamped on the same clock as the server's.
  const ctx = (): m.Ctx => {
    const now = stateDirClock(stateDir());
    return now ? { actor: 'cli', now } : { actor: 'cli' };
  };
  /** Prints `data` as JSON, or as the human text `text()` makes from it. */
  const show = (data: unknown, text: () => string): void => io.out(json() ? JSON.stringify(data, null, 2) : text());
  const offsetOf = (propertyId: number): string => m.propertyZone(store(), propertyId);
  const changed = changedDoors;

  const close = (): void => {
    db?.close();
    db = undefined;
  };
  program.hook('postAction', close);
  closers.set(program, close);

  program
    .command('status')
    .description('show the state directory and schema version (creates the store on first run)')
    .action(() => {
      const d = store();
      const data = { stateDir: stateDir(), schemaVersion: schemaVersion(d), properties: m.listProperties(d).length, pendingDoors: m.dirtyDoors(d).length };
      show(data, () => record(data));
    });

  // ---- property
  const property = program.command('property').description('properties');
  property
    .command('create')
    .description('create a property (name, time zone, doorcode length)')
    .requiredOption('--name <name>', 'name')
    .option('--time-zone <zone>', 'IANA time zone, e.g. America/New_York (daylight saving follows its rules), or UTC±hh:mm; required unless --utc-offset')
    .option('--utc-offset <minutes>', 'a fixed offset instead of a zone: minutes east of UTC, no daylight saving (stored as UTC±hh:mm)', offsetMinutes)
    .option('--doorcode-length <digits>', 'length of generated doorcodes', int('digit count'), 6)
    .action((o: { name: string; timeZone?: string; utcOffset?: number; doorcodeLength: number }) => {
      const p = m.createProperty(store(), { name: o.name, ...zoneOpts(o), doorcodeLength: o.doorcodeLength }, ctx());
      show(v.propertyView(p), () => `created property ${p.id} (${p.name}, ${p.timeZone})`);
    });
  property.command('list').description('list properties').action(() => {
    const rows = m.listProperties(store(), ctx()).map(v.propertyView);
    show(rows, () => table(rows, ['id', 'name', 'timeZone', 'utcOffsetMin', 'doorcodeLength']));
  });
  property
    .command('show')
    .description('show one property')
    .argument('<propertyId>', 'property id', int('property id'))
    .action((id: number) => {
      const p = v.propertyView(m.getProperty(store(), id, ctx()));
      show(p, () => record({ ...p, nextOffsetChange: p.nextOffsetChange ? `${p.nextOffsetChange.at} → ${p.nextOffsetChange.utcOffsetMin} min` : 'none' }));
    });
  property
    .command('update')
    .description('rename a property or change its time zone or doorcode length')
    .argument('<propertyId>', 'property id', int('property id'))
    .option('--name <name>', 'name')
    .option('--time-zone <zone>', 'IANA time zone (America/New_York) or UTC±hh:mm')
    .option('--utc-offset <minutes>', 'a fixed offset instead of a zone (minutes east of UTC)', offsetMinutes)
    .option('--doorcode-length <digits>', 'length of new doorcodes', int('digit count'))
    .action((id: number, o: { name?: string; timeZone?: string; utcOffset?: number; doorcodeLength?: number }) => {
      const p = m.updateProperty(store(), id, { ...(o.name ? { name: o.name } : {}), ...zoneOpts(o), ...(o.doorcodeLength ? { doorcodeLength: o.doorcodeLength } : {}) }, ctx());
      show({ ...v.propertyView(p), affectedDoors: p.affectedDoors }, () => `updated property ${id} (${p.timeZone}); ${changed(p.affectedDoors)}`);
    });

  // ---- unit
  const unit = program.command('unit').description('units');
  unit
    .command('create')
    .description('create a unit in a property')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .requiredOption('--name <name>', 'name')
    .action((o: { property: number; name: string }) => {
      const u = m.createUnit(store(), o.property, { name: o.name }, ctx());
      show(v.unitView(u), () => `created unit ${u.id} (${u.name})`);
    });
  const unitList = unit
    .command('list')
    .description('list the units of a property')
    .requiredOption('--property <id>', 'property id', int('property id'));
  withPaging(unitList, 1000).action((o: { property: number } & PageOpts) => {
    const page = paged(sliced(m.listUnits(store(), o.property).map(v.unitView)), o);
    showPage(io, show, page, o, (rows) => table(rows, ['id', 'name']));
  });
  unit
    .command('rename')
    .description('rename a unit')
    .argument('<unitId>', 'unit id', int('unit id'))
    .requiredOption('--name <name>', 'name')
    .action((id: number, o: { name: string }) => {
      const u = m.renameUnit(store(), id, o.name);
      show(v.unitView(u), () => `renamed unit ${id} to ${u.name}`);
    });
  unit
    .command('delete')
    .description('delete a unit')
    .argument('<unitId>', 'unit id', int('unit id'))
    .action((id: number) => {
      m.deleteUnit(store(), id);
      show({ deleted: id }, () => `deleted unit ${id}`);
    });

  // ---- door
  const door = program.command('door').description('doors (locks)');
  door
    .command('create')
    .description('add a door (its lock id, online or offline) to a property')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .requiredOption('--name <name>', 'name')
    .requiredOption('--lock-id <hex>', '8-byte lock id, 16 hex digits')
    .option('--online <radio>', 'reached by this gateway radio (otherwise offline: needs Door Sync)')
    .option('--unit <id>', 'unit the door belongs to', int('unit id'))
    .action((o: { property: number; name: string; lockId: string; online?: string; unit?: number }) => {
      const d = m.createDoor(
        store(),
        o.property,
        { name: o.name, lockId: o.lockId, connectivity: o.online ? 'online' : 'offline', gatewayRadio: o.online ?? null, unitId: o.unit ?? null },
        ctx(),
      );
      show({ ...v.doorView(d), affectedDoors: d.affectedDoors }, () => `created door ${d.id} (${d.name}, lock ${d.lockId}, ${d.connectivity})`);
    });
  const doorList = door
    .command('list')
    .description('list the doors of a property')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .addOption(new Option('--connectivity <kind>', 'only online or only offline doors').choices(['online', 'offline']));
  withPaging(doorList, 1000).action((o: { property: number; connectivity?: m.Connectivity } & PageOpts) => {
    const page = paged(sliced(m.listDoors(store(), o.property, o.connectivity ? { connectivity: o.connectivity } : {}).map(v.doorView)), o);
    showPage(io, show, page, o, (rows) => table(rows, ['id', 'name', 'lockId', 'connectivity', 'gatewayRadio', 'unitId']));
  });
  door
    .command('show')
    .description('show one door and its sync state')
    .argument('<doorId>', 'door id', int('door id'))
    .action((id: number) => {
      const d = v.doorView(m.getDoor(store(), id));
      const sync = v.syncStateView(m.doorSyncState(store(), id), m.doorDigestForms(store(), id));
      const changes = m.doorChanges(store(), id, { limit: 10 }).map(v.changeView);
      show({ ...d, sync, changes }, () => `${record(d)}\n\nsync:\n${record(sync)}\n\nrecent changes:\n${table(changes, ['id', 'at', 'compiledSeq', 'reason'])}`);
    });
  door
    .command('update')
    .description('rename a door or change its connectivity or unit')
    .argument('<doorId>', 'door id', int('door id'))
    .option('--name <name>', 'name')
    .option('--online <radio>', 'now reached by this gateway radio')
    .option('--offline', 'no gateway radio reaches it any more')
    .option('--unit <id>', 'unit id, or "none"', (s) => (s === 'none' ? null : int('unit id')(s)))
    .action((id: number, o: { name?: string; online?: string; offline?: boolean; unit?: number | null }) => {
      const patch: m.DoorPatch = {};
      if (o.name) patch.name = o.name;
      if (o.online) Object.assign(patch, { connectivity: 'online', gatewayRadio: o.online });
      if (o.offline) Object.assign(patch, { connectivity: 'offline', gatewayRadio: null });
      if (o.unit !== undefined) patch.unitId = o.unit;
      const d = m.updateDoor(store(), id, patch);
      show(v.doorView(d), () => `updated door ${id}`);
    });
  door
    .command('delete')
    .description('delete a door')
    .argument('<doorId>', 'door id', int('door id'))
    .action((id: number) => {
      m.deleteDoor(store(), id);
      show({ deleted: id }, () => `deleted door ${id}`);
    });
  door
    .command('credentials')
    .description('credentials the next set for this door will hold (secrets withheld)')
    .argument('<doorId>', 'door id', int('door id'))
    .action((id: number) => {
      const rows = m.credentialsForDoor(store(), id, ctx()).map(v.doorCredentialView);
      show(rows, () => table(rows, ['kind', 'holderRef', 'startsAt', 'expiresAt', 'hint']));
    });
  door
    .command('forget-lock')
    .description("forget the door's commissioned lock (replaced or factory-reset hardware); the next sync commissions the lock that answers")
    .argument('<doorId>', 'door id', int('door id'))
    .action(async (id: number) => {
      const { forgetLockIdentity } = await import('../compiler/index.js');
      forgetLockIdentity(store(), id);
      show({ doorId: id, forgotten: true }, () => `door ${id}: lock identity forgotten; sync the door to commission its lock`);
    });

  // ---- key
  type ScheduleOpts = { schedule?: string; days?: string; from?: string; to?: string };
  /** --schedule "tue 08:00-17:00" or --days/--from/--to; undefined = not given (INVALID_SCHEDULE when bad). */
  const scheduleOpt = (o: ScheduleOpts): m.Schedule | null | undefined => {
    const parts = o.days !== undefined || o.from !== undefined || o.to !== undefined;
    if (o.schedule !== undefined && parts) throw new GatewayError('INVALID_SCHEDULE', 'give either --schedule or --days/--from/--to, not both');
    if (o.schedule !== undefined) return m.parseScheduleText(o.schedule);
    if (!parts) return undefined;
    if (o.days === undefined || o.from === undefined || o.to === undefined) throw new GatewayError('INVALID_SCHEDULE', '--days, --from and --to go together');
    return m.parseScheduleText(`${o.days.replace(/\s+/g, '')} ${o.from}-${o.to}`);
  };
  const scheduleText = (s: m.Schedule | null): string => (s === null ? 'any time' : `${s.days.join(',')} ${s.from}-${s.to}`);
  const key = program.command('key').description('keys (sets of doors)');
  key
    .command('create')
    .description('create a key: a set of doors, communal, or residential for one unit, optionally on a weekly schedule')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .requiredOption('--name <name>', 'key name, unique in the property ("Resident Entrances", "Unit 4B")')
    .requiredOption('--doors <ids>', 'comma-separated door ids', intList('door id'))
    .option('--communal', 'a communal key (entrances, amenities) rather than a residential one')
    .option('--may-share', 'holders may share it with guests')
    .option('--no-doorcodes', 'doorcodes do not open these doors (keycards and phones only)')
    .option('--unit <id>', 'unit the key is for', int('unit id'))
    .option('--schedule <text>', 'weekly schedule, local time: "tue 08:00-17:00", "mon-fri 06:00-22:00", "none"')
    .option('--days <days>', 'schedule days, e.g. mon,tue (with --from and --to)')
    .option('--from <HH:MM>', 'schedule start, local time')
    .option('--to <HH:MM>', 'schedule end, local time (after --from; no span across midnight)')
    .action((o: { property: number; name: string; doors: number[]; communal?: boolean; mayShare?: boolean; doorcodes: boolean; unit?: number } & ScheduleOpts) => {
      const schedule = scheduleOpt(o) ?? null;
      const k = m.createKey(
        store(),
        o.property,
        { name: o.name, kind: o.communal ? 'communal' : 'residential', doorIds: o.doors, mayShare: o.mayShare ?? false, doorcodesDisabled: !o.doorcodes, unitId: o.unit ?? null, schedule },
        ctx(),
      );
      show(v.keyView(k), () => `created key ${k.id} (${k.name}: doors ${k.doorIds.join(', ')})`);
    });
  key
    .command('list')
    .description('list the keys of a property (with their doors and schedules)')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .action((o: { property: number }) => {
      const rows = m.listKeys(store(), o.property).map(v.keyView);
      show(rows, () => table(rows.map((r) => ({ ...r, schedule: scheduleText(r.schedule) })), ['id', 'name', 'kind', 'doorIds', 'mayShare', 'doorcodesDisabled', 'unitId', 'schedule']));
    });
  key
    .command('show')
    .description('show one key')
    .argument('<keyId>', 'key id', int('key id'))
    .action((id: number) => {
      const k = v.keyView(m.getKey(store(), id));
      show(k, () => record({ ...k, schedule: scheduleText(k.schedule) }));
    });
  key
    .command('update')
    .description('change a key: name, doors, may-share, doorcodes, weekly schedule')
    .argument('<keyId>', 'key id', int('key id'))
    .option('--name <name>', 'new key name')
    .option('--doors <ids>', 'the full new list of door ids', intList('door id'))
    .option('--may-share <yes|no>', 'may holders share it with guests (no: withdraws existing shares)', yesNo)
    .option('--doorcodes <yes|no>', 'do doorcodes open these doors', yesNo)
    .option('--schedule <text>', 'weekly schedule, local time: "tue 08:00-17:00", "mon-fri 06:00-22:00", "none" to remove')
    .option('--days <days>', 'schedule days, e.g. mon,tue (with --from and --to)')
    .option('--from <HH:MM>', 'schedule start, local time')
    .option('--to <HH:MM>', 'schedule end, local time (after --from; no span across midnight)')
    .action((id: number, o: { name?: string; doors?: number[]; mayShare?: boolean; doorcodes?: boolean } & ScheduleOpts) => {
      const patch: m.KeyPatch = {};
      const schedule = scheduleOpt(o);
      if (schedule !== undefined) patch.schedule = schedule;
      if (o.name) patch.name = o.name;
      if (o.doors) patch.doorIds = o.doors;
      if (o.mayShare !== undefined) patch.mayShare = o.mayShare;
      if (o.doorcodes !== undefined) patch.doorcodesDisabled = !o.doorcodes;
      const k = m.updateKey(store(), id, patch, ctx());
      show({ ...v.keyView(k), affectedDoors: k.affectedDoors }, () => `updated key ${id}; ${changed(k.affectedDoors)}`);
    });
  key
    .command('delete')
    .description('delete a key and every grant of it')
    .argument('<keyId>', 'key id', int('key id'))
    .action((id: number) => {
      const r = m.deleteKey(store(), id, ctx());
      show(r, () => `deleted key ${id}; ${changed(r.affectedDoors)}`);
    });

  // ---- person
  const person = program.command('person').description('people: invite, edit, revoke, delete');
  person
    .command('invite')
    .description('invite a person (DOOR app or daily doorcode) with keys; an existing email gets the keys added')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .requiredOption('--email <email>', 'the identity: an existing email gets the keys added')
    .requiredOption('--first <name>', 'first name')
    .requiredOption('--last <name>', 'last name')
    .requiredOption('--keys <ids>', 'comma-separated key ids', intList('key id'))
    .option('--doorcode-only', 'a daily doorcode instead of the DOOR app')
    .option('--non-resident', 'not a resident (staff, vendor): cannot invite guests')
    .option('--may-share', 'may share keys with guests')
    .option('--phone <phone>', 'phone number')
    .option('--unit <id>', 'unit id', int('unit id'))
    .option('--start <time>', 'access starts (date or date-time, property local time unless zoned)')
    .option('--expires <time>', 'access ends (recommended: the lease end)')
    .action(
      (o: { property: number; email: string; first: string; last: string; keys: number[]; doorcodeOnly?: boolean; nonResident?: boolean; mayShare?: boolean; phone?: string; unit?: number; start?: string; expires?: string }) => {
        const off = offsetOf(o.property);
        const r = m.invitePerson(
          store(),
          o.property,
          {
            email: o.email,
            firstName: o.first,
            lastName: o.last,
            accessType: o.doorcodeOnly ? 'doorcode' : 'app',
            isResident: !o.nonResident,
            mayShare: o.mayShare ?? false,
            phone: o.phone ?? null,
            unitId: o.unit ?? null,
            keyIds: o.keys,
            start: timeOpt(o.start, off, 'up') ?? null,
            end: timeOpt(o.expires, off, 'down') ?? null,
          },
          ctx(),
        );
        const data = { person: v.personView(r.person), created: r.created, grants: r.grants.map(v.grantView), warnings: r.warnings, affectedDoors: r.affectedDoors };
        show(data, () =>
          [
            r.created ? `invited ${r.person.email} as person ${r.person.id} (holder ${r.person.holderRef})` : `${r.person.email} already exists (person ${r.person.id}): keys added`,
            ...r.warnings.map((w) => `warning ${w.code}: ${w.message}`),
            changed(r.affectedDoors),
          ].join('\n'),
        );
      },
    );
  const personList = person
    .command('list')
    .description('list the people of a property')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .option('--all', 'also people whose access expired or was revoked ("Show Expired Users")')
    .option('--search <text>', 'match name or email')
    .option('--residents', 'residents only');
  withPaging(personList, 1000).action((o: { property: number; all?: boolean; search?: string; residents?: boolean } & PageOpts) => {
    const q = { includeExpired: o.all ?? false, residentsOnly: o.residents ?? false, ...(o.search ? { search: o.search } : {}) };
    const page = paged((limit, offset) => m.listPeople(store(), o.property, { ...q, limit, offset }, ctx()), o);
    showPage(io, show, { rows: page.rows.map(v.personView), more: page.more }, o, (rows) =>
      table(rows, ['id', 'email', 'firstName', 'lastName', 'status', 'accessType', 'isResident', 'holderRef']),
    );
  });
  person
    .command('show')
    .description('show one person with their keys')
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      const p = v.personView(m.getPerson(store(), id, ctx()));
      const grants = m.listGrants(store(), id).map(v.grantView);
      show({ person: p, grants }, () => `${record(p)}\n\nkeys:\n${table(grants, ['id', 'keyId', 'keyName', 'sharedBy', 'startsAt', 'expiresAt'])}`);
    });
  person
    .command('update')
    .description('edit contact details and flags (resident, may-share, app/doorcode, unit)')
    .argument('<personId>', 'person id', int('person id'))
    .option('--email <email>', 'email address')
    .option('--first <name>', 'first name')
    .option('--last <name>', 'last name')
    .option('--phone <phone>', 'phone number')
    .option('--resident <yes|no>', 'is a resident (no: their guests lose access)', yesNo)
    .option('--may-share <yes|no>', 'may share keys (no: their guests lose access)', yesNo)
    .addOption(new Option('--access <type>', 'DOOR app or doorcode-only').choices(['app', 'doorcode']))
    .option('--unit <id>', 'unit id, or "none"', (s) => (s === 'none' ? null : int('unit id')(s)))
    .action(
      (id: number, o: { email?: string; first?: string; last?: string; phone?: string; resident?: boolean; mayShare?: boolean; access?: m.AccessType; unit?: number | null }) => {
        const patch: m.PersonPatch = {};
        if (o.email) patch.email = o.email;
        if (o.first) patch.firstName = o.first;
        if (o.last) patch.lastName = o.last;
        if (o.phone) patch.phone = o.phone;
        if (o.resident !== undefined) patch.isResident = o.resident;
        if (o.mayShare !== undefined) patch.mayShare = o.mayShare;
        if (o.access) patch.accessType = o.access;
        if (o.unit !== undefined) patch.unitId = o.unit;
        const p = m.updatePerson(store(), id, patch, ctx());
        show({ ...v.personView(p), affectedDoors: p.affectedDoors }, () => `updated person ${id}; ${changed(p.affectedDoors)}`);
      },
    );
  person
    .command('revoke-all')
    .description('Revoke All Keys: keeps the person, removes their keys and their guests\' access')
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      const p = m.revokeAllKeys(store(), id, ctx());
      show({ ...v.personView(p), affectedDoors: p.affectedDoors }, () => `revoked all keys of ${p.email}; ${changed(p.affectedDoors)}`);
    });
  person
    .command('delete')
    .description('Delete Person: removes the record and their guests\' access; activity is kept')
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      const r = m.deletePerson(store(), id, ctx());
      show(r, () => `deleted person ${id}; ${changed(r.affectedDoors)}`);
    });

  // ---- grant
  const grant = program.command('grant').description("a person's keys (edit access)");
  grant
    .command('add')
    .description('give a person a key (optionally with a start and expiration)')
    .argument('<personId>', 'person id', int('person id'))
    .requiredOption('--keys <ids>', 'comma-separated key ids', intList('key id'))
    .option('--start <time>', 'access starts (date or date-time, property local time unless zoned)')
    .option('--expires <time>', 'access ends (date or date-time, property local time unless zoned)')
    .action((id: number, o: { keys: number[]; start?: string; expires?: string }) => {
      const off = offsetOf(m.getPerson(store(), id).propertyId);
      const r = m.addGrants(store(), id, { keyIds: o.keys, start: timeOpt(o.start, off, 'up') ?? null, end: timeOpt(o.expires, off, 'down') ?? null }, ctx());
      const data = { grants: r.grants.map(v.grantView), affectedDoors: r.affectedDoors };
      show(data, () => `granted ${r.grants.map((g) => g.keyName).join(', ')} to person ${id}; ${changed(r.affectedDoors)}`);
    });
  grant
    .command('list')
    .description("list a person's keys")
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      m.getPerson(store(), id);
      const rows = m.listGrants(store(), id).map(v.grantView);
      show(rows, () => table(rows, ['id', 'keyId', 'keyName', 'sharedBy', 'startsAt', 'expiresAt', 'source']));
    });
  grant
    .command('update')
    .description("change a grant's start or expiration")
    .argument('<grantId>', 'grant id', int('grant id'))
    .option('--start <time>', 'new start, or "none"')
    .option('--expires <time>', 'new expiration, or "none"')
    .action((id: number, o: { start?: string; expires?: string }) => {
      const g0 = m.getGrant(store(), id);
      const off = offsetOf(m.getPerson(store(), g0.personId).propertyId);
      const patch: Partial<m.Window> = {};
      const s = timeOpt(o.start, off, 'up');
      const e = timeOpt(o.expires, off, 'down');
      if (s !== undefined) patch.start = s;
      if (e !== undefined) patch.end = e;
      if (s === undefined && e === undefined) throw new GatewayError('INVALID_ARGUMENT', 'give --start and/or --expires');
      const g = m.updateGrant(store(), id, patch, ctx());
      show({ ...v.grantView(g), affectedDoors: g.affectedDoors }, () => `updated grant ${id}; ${changed(g.affectedDoors)}`);
    });
  grant
    .command('remove')
    .description('take a key from a person')
    .argument('<grantId>', 'grant id', int('grant id'))
    .action((id: number) => {
      const r = m.removeGrant(store(), id, ctx());
      show(r, () => `removed grant ${id}; ${changed(r.affectedDoors)}`);
    });

  // ---- guest
  const guest = program.command('guest').description("residents' guests");
  guest
    .command('invite')
    .description("invite a guest on a resident's shareable keys")
    .argument('<hostId>', 'the resident sharing their keys', int('person id'))
    .requiredOption('--email <email>', 'email address')
    .requiredOption('--first <name>', 'first name')
    .requiredOption('--last <name>', 'last name')
    .requiredOption('--keys <ids>', 'comma-separated key ids (may-share keys the host holds)', intList('key id'))
    .option('--doorcode-only', 'a daily doorcode instead of the DOOR app')
    .option('--start <time>', 'access starts (date or date-time, property local time unless zoned)')
    .option('--expires <time>', 'access ends (date or date-time, property local time unless zoned)')
    .action((hostId: number, o: { email: string; first: string; last: string; keys: number[]; doorcodeOnly?: boolean; start?: string; expires?: string }) => {
      const off = offsetOf(m.getPerson(store(), hostId).propertyId);
      const r = m.inviteGuest(
        store(),
        hostId,
        {
          email: o.email,
          firstName: o.first,
          lastName: o.last,
          accessType: o.doorcodeOnly ? 'doorcode' : 'app',
          keyIds: o.keys,
          start: timeOpt(o.start, off, 'up') ?? null,
          end: timeOpt(o.expires, off, 'down') ?? null,
        },
        ctx(),
      );
      const data = { guest: v.personView(r.guest), created: r.created, grants: r.grants.map(v.grantView), affectedDoors: r.affectedDoors };
      show(data, () => `guest ${r.guest.email} (person ${r.guest.id}) invited by person ${hostId}; ${changed(r.affectedDoors)}`);
    });
  guest
    .command('list')
    .description("list a resident's guests")
    .argument('<hostId>', 'host person id', int('person id'))
    .action((hostId: number) => {
      const rows = m.listGuests(store(), hostId, ctx()).map((e) => ({ guest: v.personView(e.guest), grants: e.grants.map(v.grantView) }));
      show(rows, () =>
        table(
          rows.map((r) => ({ id: r.guest.id, email: r.guest.email, keys: r.grants.map((g) => g.keyName), expiresAt: r.grants.map((g) => g.expiresAt ?? 'never') })),
          ['id', 'email', 'keys', 'expiresAt'],
        ),
      );
    });
  guest
    .command('revoke')
    .description("revoke a guest's access")
    .argument('<hostId>', 'host person id', int('person id'))
    .argument('<guestId>', 'guest person id', int('person id'))
    .action((hostId: number, guestId: number) => {
      const r = m.revokeGuest(store(), hostId, guestId, ctx());
      show(r, () => `revoked guest ${guestId} of person ${hostId}; ${changed(r.affectedDoors)}`);
    });

  // ---- keycard / phone key / doorcode
  const keycard = program.command('keycard').description('keycards');
  keycard
    .command('activate')
    .description('activate a keycard (UID) for a person')
    .argument('<personId>', 'person id', int('person id'))
    .requiredOption('--uid <hex>', 'card UID, 4-10 bytes of hex')
    .action((id: number, o: { uid: string }) => {
      const k = m.activateKeycard(store(), id, o.uid, ctx());
      show({ ...v.keycardView(k), affectedDoors: k.affectedDoors }, () => `activated keycard ${k.id} (${k.uid}) for person ${id}; ${changed(k.affectedDoors)}`);
    });
  keycard
    .command('list')
    .description("list a person's keycards")
    .argument('<personId>', 'person id', int('person id'))
    .option('--all', 'include deactivated cards')
    .action((id: number, o: { all?: boolean }) => {
      m.getPerson(store(), id);
      const rows = m.listKeycards(store(), id, { includeInactive: o.all ?? false }).map(v.keycardView);
      show(rows, () => table(rows, ['id', 'uid', 'activatedAt', 'deactivatedAt']));
    });
  keycard
    .command('deactivate')
    .description('deactivate a keycard')
    .argument('<keycardId>', 'keycard id', int('keycard id'))
    .action((id: number) => {
      const r = m.deactivateKeycard(store(), id, ctx());
      show(r, () => `deactivated keycard ${id}; ${changed(r.affectedDoors)}`);
    });

  const phone = program.command('phone-key').description('DOOR-app phone keys');
  phone
    .command('add')
    .description("register a DOOR-app phone's public key for a person")
    .argument('<personId>', 'person id', int('person id'))
    .requiredOption('--public-key <hex>', 'Ed25519 public key, 32 bytes hex')
    .option('--label <label>', 'a label for the phone, e.g. its model')
    .action((id: number, o: { publicKey: string; label?: string }) => {
      const k = m.addPhoneKey(store(), id, { publicKey: o.publicKey, label: o.label ?? null }, ctx());
      show({ ...v.phoneKeyView(k), affectedDoors: k.affectedDoors }, () => `added phone key ${k.id} for person ${id}; ${changed(k.affectedDoors)}`);
    });
  phone
    .command('list')
    .description("list a person's phone keys")
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      m.getPerson(store(), id);
      const rows = m.listPhoneKeys(store(), id).map(v.phoneKeyView);
      show(rows, () => table(rows, ['id', 'label', 'publicKey', 'addedAt']));
    });
  phone
    .command('revoke')
    .description('revoke a phone key')
    .argument('<phoneKeyId>', 'phone key id', int('phone key id'))
    .action((id: number) => {
      const r = m.revokePhoneKey(store(), id, ctx());
      show(r, () => `revoked phone key ${id}; ${changed(r.affectedDoors)}`);
    });

  const doorcode = program.command('doorcode').description('static and daily doorcodes');
  doorcode
    .command('show')
    .description("a person's static doorcode and, when they have one, today's daily doorcode")
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      const p = m.getPerson(store(), id);
      const daily = p.dailyDoorcode ? m.personDailyDoorcode(store(), id, undefined, ctx()) : null;
      const data = { doorcode: m.personDoorcode(store(), id), dailyDoorcode: p.dailyDoorcode, dailyCodeToday: daily?.code ?? null };
      show(data, () => record(data));
    });
  doorcode
    .command('daily-code')
    .description("a person's daily doorcode for a local day (default today in the property's time) and the doors it opens")
    .argument('<personId>', 'person id', int('person id'))
    .option('--date <YYYY-MM-DD>', 'the local day (default today)')
    .action((id: number, o: { date?: string }) => {
      const d = m.personDailyDoorcode(store(), id, o.date, ctx());
      show(d, () => `daily doorcode of person ${id} on ${d.date}: ${d.code} (doors ${d.doorIds.join(', ') || 'none'})`);
    });
  /** A command about one local day of a property's daily codes. */
  const dailyDay = (name: string, description: string): Command =>
    doorcode
      .command(name)
      .description(description)
      .requiredOption('--property <id>', 'property id', int('property id'))
      .option('--date <YYYY-MM-DD>', 'the local day (default today in the property time)');
  dailyDay('send-daily', "render the day's daily-doorcode message (code and doors) for every daily-code person of a property, for the mail transport")
    .action((o: { property: number; date?: string }) => {
      const msgs = dailyCodeMessages(store(), o.property, o.date, ctx());
      show(msgs, () =>
        msgs.length === 0
          ? 'no daily-code person has a door to open that day'
          : msgs.map((n) => `To: ${n.email}\nSubject: ${n.subject}\n\n${n.body}`).join('\n\n----\n\n'),
      );
    });
  dailyDay('queue-daily', "queue the day's daily-doorcode messages in the outbox, once per person per local day (serve does this every day)")
    .action((o: { property: number; date?: string }) => {
      const r = queueDailyMessages(store(), o.property, o.date, ctx());
      show(r, () => `${r.date}: queued ${r.queued} daily message(s)${r.already ? `, ${r.already} already queued` : ''}`);
    });
  doorcode
    .command('reset')
    .description('issue a new unique static doorcode (the old one stops working once doors sync)')
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      const r = m.resetDoorcode(store(), id, ctx());
      show({ doorcode: r.code, affectedDoors: r.affectedDoors }, () => `new doorcode for person ${id}: ${r.code}; ${changed(r.affectedDoors)}`);
    });
  doorcode
    .command('clear')
    .description('withdraw the static doorcode')
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      const r = m.clearDoorcode(store(), id, ctx());
      show(r, () => `removed the doorcode of person ${id}; ${changed(r.affectedDoors)}`);
    });
  doorcode
    .command('daily')
    .description('turn the daily doorcode on or off')
    .argument('<personId>', 'person id', int('person id'))
    .argument('<onOff>', 'on or off', yesNo)
    .action((id: number, on: boolean) => {
      const r = m.setDailyDoorcode(store(), id, on, ctx());
      show(r, () => `daily doorcode ${on ? 'on' : 'off'} for person ${id}; ${changed(r.affectedDoors)}`);
    });

  // ---- activity / sync
  program
    .command('activity')
    .description('the activity log, newest first')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .option('--person <id>', 'only this (living) person', int('person id'))
    .option('--holder <ref>', 'only this holder reference (works after deletion)', int('holder reference'))
    .option('--door <id>', 'only this door', int('door id'))
    .option('--limit <n>', 'list at most this many (default 50)', int('count'), 50)
    .option('--offset <n>', 'skip this many newest first (the next page)', int('count'), 0)
    .action((o: { property: number; person?: number; holder?: number; door?: number } & PageOpts) => {
      const holderRef = o.person !== undefined ? m.getPerson(store(), o.person).holderRef : o.holder;
      const q = { ...(holderRef !== undefined ? { holderRef } : {}), ...(o.door !== undefined ? { doorId: o.door } : {}) };
      const page = paged(
        (limit, offset) => m.listActivity(store(), o.property, { ...q, limit, offset }),
        o,
        () => m.countActivity(store(), o.property, q),
      );
      showPage(io, show, { rows: page.rows.map(v.activityView), more: page.more }, o, (rows) => table(rows, ['at', 'kind', 'holderName', 'doorName', 'message']));
    });
  program
    .command('sync-tasks')
    .description('Door Sync tasks: doors behind the credentials the gateway holds')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .addOption(new Option('--connectivity <kind>', 'only online or only offline doors').choices(['online', 'offline']))
    .action((o: { property: number; connectivity?: m.Connectivity }) => {
      m.getProperty(store(), o.property);
      const rows = m.doorSyncTasks(store(), o.property, { ...(o.connectivity ? { connectivity: o.connectivity } : {}), ctx: ctx() }).map(v.syncTaskView);
      show(rows, () =>
        table(
          rows.map((t) => ({ ...t, changes: t.changes.length, latest: t.changes[t.changes.length - 1]?.reason })),
          ['doorId', 'doorName', 'connectivity', 'compiledSeq', 'enforcedSeq', 'changes', 'latest'],
        ),
      );
    });

  // ---- token
  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('create an API token (the secret is shown once)')
    .requiredOption('--name <name>', 'name')
    .addOption(new Option('--role <role>', 'what the token may do').choices(['portfolio_manager', 'property_manager', 'read_only']).makeOptionMandatory())
    .option('--property <id>', 'limit to one property (required for property managers)', int('property id'))
    .option('--key-management', 'property manager with Key Management permission')
    .action((o: { name: string; role: m.Role; property?: number; keyManagement?: boolean }) => {
      const { token: t, secret } = m.createToken(store(), { name: o.name, role: o.role, propertyId: o.property ?? null, keyManagement: o.keyManagement ?? false }, ctx());
      show({ token: v.tokenView(t), secret }, () => `created token ${t.tokenId} (${t.role}${t.keyManagement ? ', key management' : ''})\n${secret}\n(shown once; store it now)`);
    });
  withPaging(token.command('list').description('list API tokens (without secrets)'), 1000).action((o: PageOpts) => {
    const page = paged(sliced(m.listTokens(store()).map(v.tokenView)), o);
    showPage(io, show, page, o, (rows) => table(rows, ['id', 'name', 'role', 'keyManagement', 'propertyId', 'revokedAt']));
  });
  token
    .command('revoke')
    .description('revoke an API token')
    .argument('<tokenId>', 'token id', int('token id'))
    .action((id: number) => {
      const t = m.revokeToken(store(), id, ctx());
      show(v.tokenView(t), () => `revoked token ${id}`);
    });

  // ---- serve
  program
    .command('serve')
    .description('run the HTTP API; with --radio virtual (or --demo), also the simulated world of every door in the store')
    .option('--port <port>', 'TCP port (0 picks a free one)', (s) => {
      if (!/^\d+$/.test(s) || Number(s) > 65535) throw new InvalidArgumentError(`expected a port 0-65535, got "${s}"`);
      return Number(s);
    }, 8080)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--log', 'log each request')
    .option('--radio <kind>', 'virtual: run a simulated lock for every door, the gateway radios and phones on an in-process air; hci: the sync engine on a real adapter', (s) => {
      if (s !== 'virtual' && s !== 'hci') throw new InvalidArgumentError(`expected virtual or hci, got "${s}"`);
      return s;
    })
    .option('--demo [units]', 'a store with no property gets the demo property (default 50 units); implies --radio virtual; prints a URL with a manager token', (s) => {
      if (!/^\d+$/.test(s) || Number(s) < 10 || Number(s) > 5000) throw new InvalidArgumentError(`expected 10 to 5000 units, got "${s}"`);
      return Number(s);
    })
    .option('--gateway-name <name>', 'gateway radio for online doors that name none', 'gw-1')
    .option('--sync-interval <ms>', 'how often each gateway radio looks for changes to push', (s) => {
      if (!/^\d+$/.test(s) || Number(s) < 10) throw new InvalidArgumentError(`expected milliseconds >= 10, got "${s}"`);
      return Number(s);
    }, 1000)
    .option('--collect-interval <ms>', 'how often each gateway radio collects event logs from its online doors (0: only after syncs and local attempts)', (s) => {
      if (!/^\d+$/.test(s) || (Number(s) !== 0 && Number(s) < 100)) throw new InvalidArgumentError(`expected 0 or milliseconds >= 100, got "${s}"`);
      return Number(s);
    }, 10_000)
    .addOption(new Option('--fleet <file>', 'no longer used: serve --radio virtual runs every door of the store').hideHelp())
    .option('--no-pms', 'do not run the PMS scheduler (User Sync / Automated Access pulls of enabled integrations)')
    .option('--no-daily-messages', "do not queue each day's daily-doorcode messages in the outbox")
    .option('--signer <module>', 'ES module exporting signerFor(issuer): the issuer signer (KMS, HSM, signing process) of properties whose key the store does not hold (README "Plugging a KMS signer")')
    .action(
      async (o: {
        port: number;
        host: string;
        log?: boolean;
        radio?: 'virtual' | 'hci';
        demo?: number | true;
        gatewayName: string;
        syncInterval: number;
        collectInterval: number;
        fleet?: string;
        pms: boolean;
        dailyMessages: boolean;
        signer?: string;
      }) => {
        // Argument checks first, before anything is opened.
        if (o.fleet) throw new InvalidArgumentError('--fleet is no longer needed: serve --radio virtual runs a simulated lock for every door in the store (lock directories under <state-dir>/locks)');
        if (o.demo !== undefined && o.radio === 'hci') throw new InvalidArgumentError('--demo runs the simulated world; it cannot use --radio hci');
        const radioKind = o.demo !== undefined ? 'virtual' : o.radio;
        const { serve } = await import('./serve.js');
        const d = store();
        // serve owns the connection for its lifetime; keep postAction from closing it early.
        db = undefined;
        await serve(d, {
          io,
          json: json(),
          stateDir: stateDir(),
          port: o.port,
          host: o.host,
          log: o.log === true,
          radio: radioKind ?? null,
          demoUnits: o.demo === undefined ? null : o.demo === true ? 50 : o.demo,
          gatewayName: o.gatewayName,
          syncIntervalMs: o.syncInterval,
          collectIntervalMs: o.collectInterval,
          pms: o.pms,
          dailyMessages: o.dailyMessages,
          ...(o.signer ? { signerModule: o.signer } : {}),
        });
      },
    );

  registerFlowCommands(program, {
    io,
    store,
    show,
    ctx,
    takeStore: () => {
      const d = store();
      db = undefined;
      return d;
    },
  });

  // Commands that drive a running server's world over HTTP (never the locks' directories).
  registerSimCommands(program, { io, stateDir, store, json });

  // The conformance suite against one lock (simulated or real), over GATT only.
  registerConformCommand(program, { io, json });

  // One `latchkit` binary: the simulator adds `fleet start`, `lock run` and `lock state`.
  registerSimulatorCommands(program, io);

  // The main job (npm start) and the benchmarks (npm run bench): one front door.
  registerDemoCommand(program, io);
  registerBenchCommand(program);

  return program;
}


/** Runs the CLI; returns the exit code (0 ok, 1 operation refused or failed, 2 bad usage). */
export async function runCli(args: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return 0;
  } catch (e) {
    const asJson = args.includes('--json');
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander but successes to the user.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      const message = `${e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see --help)`;
      io.err(asJson ? JSON.stringify({ error: { code: 'VALIDATION_FAILED', message } }) : `error VALIDATION_FAILED: ${message}`);
      return 2;
    }
    // Every latchkit package's errors carry a stable code (simulator, radio, protocol too).
    const code = e instanceof LatchkitError ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    io.err(asJson ? JSON.stringify({ error: { code, message } }) : `error ${code}: ${message}`);
    return 1;
  } finally {
    closers.get(program)?.();
  }
}
