/**
 * A running world behind a real listening server, driven over real HTTP (global fetch), for the
 * simulate routes and the SSE event stream. A tiny property: one online door (gateway radio
 * gw-1), two offline unit doors, residents with doorcodes, a keycard and simulated phone keys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { signingKeyFromSeed, toHex } from '@latchkit/protocol';
import { buildApp } from '../../gateway/src/api/app.js';
import * as g from '../../gateway/src/index.js';

export interface Called<T = any> {
  status: number;
  body: T;
  code: string | undefined;
}

export type TokenName = 'km' | 'pm' | 'readOnly' | 'otherKm';

export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what = 'condition'): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function httpClient(url: string, tokens: Record<string, string>) {
  return async function call<T = any>(as: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Called<T>> {
    const h: Record<string, string> = { ...headers };
    if (as !== null) h.authorization = `Bearer ${tokens[as]}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers: h, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    const parsed = text === '' ? undefined : JSON.parse(text);
    return { status: res.status, body: parsed, code: parsed?.error?.code };
  };
}

export async function startWorldServer() {
  const dir = mkdtempSync(join(tmpdir(), 'latchkit-world-api-'));
  const db = g.openStore({ stateDir: dir });
  // A short find timeout: a door put out of range answers RADIO_UNAVAILABLE within ~2 s.
  const world = await g.World.open({ db, stateDir: dir, seed: 1, syncIntervalMs: 0, collectIntervalMs: 0, findTimeoutMs: 1_000 });
  const ctx = world.ctx('test');
  const prop = g.createProperty(db, { name: 'World Court', utcOffsetMin: 0 }, ctx);
  const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b00000000a001', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  const unitA = g.createUnit(db, prop.id, { name: '1A' }, ctx);
  const unitB = g.createUnit(db, prop.id, { name: '1B' }, ctx);
  const doorA = g.createDoor(db, prop.id, { name: '1A front door', lockId: '4c4b00000000a002', connectivity: 'offline', unitId: unitA.id }, ctx);
  const doorB = g.createDoor(db, prop.id, { name: '1B front door', lockId: '4c4b00000000a003', connectivity: 'offline', unitId: unitB.id }, ctx);
  const entrances = g.createKey(db, prop.id, { name: 'Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: true, doorcodesDisabled: false }, ctx);
  const keyA = g.createKey(db, prop.id, { name: 'Unit 1A', kind: 'residential', doorIds: [doorA.id], mayShare: true, doorcodesDisabled: false, unitId: unitA.id }, ctx);
  const keyB = g.createKey(db, prop.id, { name: 'Unit 1B', kind: 'residential', doorIds: [doorB.id], mayShare: true, doorcodesDisabled: false, unitId: unitB.id }, ctx);
  const person = (email: string, first: string, keyIds: number[], unitId: number) =>
    g.invitePerson(db, prop.id, { email, firstName: first, lastName: 'Tester', accessType: 'app', isResident: true, mayShare: true, unitId, keyIds }, ctx).person;
  // Alice and Bob share 1A (simulated phones; Alice has a keycard), Carol lives in 1B without a phone.
  const alice = person('alice@world.example', 'Alice', [entrances.id, keyA.id], unitA.id);
  const bob = person('bob@world.example', 'Bob', [entrances.id, keyA.id], unitA.id);
  const carol = person('carol@world.example', 'Carol', [entrances.id, keyB.id], unitB.id);
  // Dave's phone key was registered from outside the world (the world holds no private key of it).
  const dave = person('dave@world.example', 'Dave', [entrances.id, keyA.id], unitA.id);
  for (const p of [alice, bob]) g.addPhoneKey(db, p.id, { publicKey: toHex(world.phoneKeyFor(p.id).publicKey), label: 'simulated phone' }, ctx);
  g.addPhoneKey(db, dave.id, { publicKey: toHex(signingKeyFromSeed(world.crypto.randomBytes(32), world.crypto).publicKey), label: 'own phone' }, ctx);
  const aliceCard = '04a1b2c3d4e5f6';
  g.activateKeycard(db, alice.id, aliceCard, ctx);
  // Another property with a door of its own: its id is a door of "another property".
  const other = g.createProperty(db, { name: 'Elsewhere', utcOffsetMin: 0 }, ctx);
  const otherDoor = g.createDoor(db, other.id, { name: 'Elsewhere lobby', lockId: '4c4b00000000b001', connectivity: 'offline' }, ctx);
  await world.refresh();

  const tok = (input: g.TokenInput) => g.createToken(db, input, ctx).secret;
  const tokens: Record<TokenName, string> = {
    km: tok({ name: 'pm with KM', role: 'property_manager', propertyId: prop.id, keyManagement: true }),
    pm: tok({ name: 'pm without KM', role: 'property_manager', propertyId: prop.id, keyManagement: false }),
    readOnly: tok({ name: 'auditor', role: 'read_only' }),
    otherKm: tok({ name: 'pm elsewhere', role: 'property_manager', propertyId: other.id, keyManagement: true }),
  };
  const app: FastifyInstance = await buildApp({ db, world });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const call = httpClient(url, tokens);
  const code = (personId: number) => g.personDoorcode(db, personId)!;
  const base = `/properties/${prop.id}`;
  const sim = `${base}/simulate`;

  const close = async (): Promise<void> => {
    await app.close();
    await world.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  };

  return {
    dir,
    db,
    world,
    app,
    url,
    tokens,
    call,
    code,
    close,
    base,
    sim,
    prop,
    other,
    otherDoor,
    lobby,
    doorA,
    doorB,
    units: { unitA, unitB },
    keys: { entrances, keyA, keyB },
    people: { alice, bob, carol, dave },
    aliceCard,
  };
}

export type WorldServer = Awaited<ReturnType<typeof startWorldServer>>;

export interface SseFrame {
  id: number | null;
  event: string;
  data: any;
}

/** A Server-Sent Events client over fetch: frames are parsed as they arrive. */
export async function openSse(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const readyMarks: { lastId: number; replayed: boolean }[] = [];
  let ended = false;
  let buf = '';
  const pump = (async () => {
    if (!res.body) return;
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let id: number | null = null;
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) id = Number(line.slice(4));
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          // `ready` marks where the replay ends; it carries no id and is not a stream event.
          if (event === 'ready') readyMarks.push(JSON.parse(data.join('\n')));
          else if (data.length > 0) frames.push({ id, event, data: JSON.parse(data.join('\n')) });
        }
      }
    } catch {
      // aborted
    } finally {
      ended = true;
    }
  })();
  return {
    res,
    frames,
    comments,
    readyMarks,
    get ended() {
      return ended;
    },
    /** The first frame (after index `from`) matching `pred`, waiting up to `ms`. */
    async waitFor(pred: (f: SseFrame) => boolean, ms = 10_000, from = 0): Promise<SseFrame> {
      return until(() => frames.slice(from).find(pred), ms, 'SSE frame');
    },
    async close(): Promise<void> {
      abort.abort();
      await pump;
    },
  };
}
