/**
 * The API takes input as written or refuses it (API.md "Conventions"): non-canonical ids in paths
 * and queries (INVALID_ID), wrong JSON types (VALIDATION_FAILED), numbers beyond 2^53 - 1
 * (UNSAFE_INTEGER), invalid UTF-8, lone surrogates and control characters in names
 * (INVALID_TEXT), lock ids not in their one written form (INVALID_LOCK_ID). Every refusal is a
 * 400 that stores nothing: the connection's total_changes() does not move.
 *
 * The tables walk every route of GET /openapi.json, so a route added later is covered too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { findLoneSurrogate, findUnsafeNumber, isCanonicalId } from '../../gateway/src/api/strict-input.js';
import { apiFixture } from './api-helpers.js';
import { resident } from './helpers.js';

type Api = Awaited<ReturnType<typeof apiFixture>>;
type Schema = Record<string, any>;
type Op = { path: string; method: string; op: Schema };

const apps: Api[] = [];
afterEach(async () => {
  while (apps.length) {
    const a = apps.pop()!;
    await a.app.close();
    a.db.close();
  }
});

/** The API fixture with one of each addressable thing, and the real id behind every path parameter name. */
async function world() {
  const a = await apiFixture();
  apps.push(a);
  const jane = resident(a).person;
  const guest = g.inviteGuest(a.db, jane.id, { email: 'gus@example.com', firstName: 'Gus', lastName: 'Guest', keyIds: [a.entrances.id] }, a.ctx).guest;
  const grant = g.listGrants(a.db, jane.id)[0]!;
  const card = g.activateKeycard(a.db, jane.id, '04a1b2c3', a.ctx);
  const phone = g.addPhoneKey(a.db, jane.id, { publicKey: 'ab'.repeat(32) }, a.ctx);
  const imp = g.createImport(a.db, a.prop.id, { csv: 'First Name,Last Name,Email\nAnn,Lee,ann@example.com\n' }, a.ctx);
  const notification = g.listNotifications(a.db, a.prop.id)[0]!;
  const token = g.listTokens(a.db)[0]!;
  const ids: Record<string, number> = {
    propertyId: a.prop.id,
    unitId: a.unit4b.id,
    doorId: a.lobby.id,
    keyId: a.entrances.id,
    personId: jane.id,
    grantId: grant.id,
    guestId: guest.id,
    keycardId: card.id,
    phoneKeyId: phone.id,
    tokenId: token.tokenId,
    importId: imp.id,
    notificationId: notification.id,
    suggestionId: 1,
    alertId: 1,
  };
  const doc = (await a.call(null, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, Schema>> };
  const ops: Op[] = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));
  const changes = () => (a.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  const send = async (method: string, url: string, payload?: string | Buffer) => {
    const res = await a.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${a.tokens.portfolio}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload }),
    });
    const body = res.body === '' ? undefined : JSON.parse(res.body);
    return { status: res.statusCode, body, code: body?.error?.code as string | undefined };
  };
  /** The path with every parameter filled with its real id, one of them overridden. */
  const fill = (path: string, over: Record<string, string> = {}) => path.replace(/\{(\w+)\}/g, (_, n: string) => over[n] ?? String(ids[n] ?? 1));
  return { ...a, ids, ops, changes, send, fill, jane };
}

const typesOf = (s: Schema): string[] => (Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type]);
const isId = (s: Schema) => s.type === 'integer' && s.minimum === 1 && s.maximum === Number.MAX_SAFE_INTEGER;

/** Non-canonical spellings of id `n` (each would have been read as n, or as another id), and ids out of range. */
const badIds = (n: number): string[] => [
  `0x${n.toString(16)}`,
  `%20${n}`,
  `${n}%20`,
  `${n}e0`,
  `0${n}`,
  `00${n}`,
  `+${n}`,
  `${n}.0`,
  `${n}.`,
  `-${n}`,
  '0',
  '-0',
  '9007199254740992',
  '9007199254740993',
  '1'.repeat(20),
  `${n}abc`,
  'abc',
  `%EF%BC%91`, // fullwidth digit one
];

/** A value the schema accepts (enough for the rest of a body while one field is made wrong). */
const PATTERN_SAMPLES: Record<string, string> = {
  '^[0-9a-f]{16}$': '00000000000000a1',
  '^[A-Za-z0-9+/]*={0,2}$': 'AAAA',
  '^([0-9a-f]{2}){4,10}$': '00112233',
};
function sample(s: Schema): unknown {
  if (Array.isArray(s.enum)) return s.enum.find((x: unknown) => x !== null);
  const t = typesOf(s).find((x) => x !== 'null');
  switch (t) {
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return false;
    case 'string':
      if (s.pattern !== undefined) {
        const v = PATTERN_SAMPLES[s.pattern as string];
        if (v === undefined) throw new Error(`no sample for pattern ${s.pattern}: add one`);
        return v;
      }
      return 'x'.repeat(Math.max(1, (s.minLength as number | undefined) ?? 1));
    case 'array':
      return (s.minItems ?? 0) > 0 ? [sample(s.items)] : [];
    case 'object':
      return Object.fromEntries(((s.required ?? []) as string[]).map((k) => [k, sample(s.properties[k])]));
    default:
      throw new Error(`no sample for ${JSON.stringify(s)}`);
  }
}

/** One value of each JSON type; a field gets those its schema does not allow. */
const ONE_OF_EACH: [string, unknown][] = [
  ['string', '7'],
  ['integer', 7],
  ['number', 7.5],
  ['boolean', true],
  ['array', []],
  ['object', {}],
  ['null', null],
];
function wrongTypes(s: Schema): unknown[] {
  const allowed = new Set(typesOf(s));
  if (allowed.has('number')) allowed.add('integer');
  if (allowed.size === 0) return [];
  return ONE_OF_EACH.filter(([t]) => !allowed.has(t)).map(([, v]) => v);
}

describe('path and query ids are canonical decimal or INVALID_ID, on every route', () => {
  it('refuses every non-canonical id in every path parameter of every route, and changes nothing', async () => {
    const w = await world();
    let cases = 0;
    const routes = new Set<string>();
    for (const { path, method } of w.ops) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      for (const name of names) {
        for (const bad of badIds(w.ids[name] ?? 1)) {
          const before = w.changes();
          const url = w.fill(path, { [name]: bad });
          const r = await w.send(method, url, ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined);
          expect([method, url, r.status, r.code]).toEqual([method, url, 400, 'INVALID_ID']);
          expect(r.body.error.message, url).toContain(name);
          expect(w.changes(), `${method} ${url} stored something`).toBe(before);
          cases++;
          routes.add(`${method} ${path}`);
        }
      }
    }
    expect(routes.size).toBeGreaterThanOrEqual(70);
    expect(cases).toBeGreaterThan(2000);
    // Everything addressed is still there.
    expect(g.getUnit(w.db, w.ids.unitId!).id).toBe(w.ids.unitId);
    expect(g.getDoor(w.db, w.ids.doorId!).id).toBe(w.ids.doorId);
    expect(g.getKey(w.db, w.ids.keyId!).id).toBe(w.ids.keyId);
    expect(g.getPerson(w.db, w.ids.personId!).status).toBe('active');
  });

  it('refuses non-canonical integers in every query parameter: ids INVALID_ID, other integers VALIDATION_FAILED', async () => {
    const w = await world();
    let cases = 0;
    for (const { path, method, op } of w.ops) {
      for (const p of (op.parameters as { name: string; in: string; schema: Schema }[]).filter((x) => x.in === 'query')) {
        const types = typesOf(p.schema);
        const bads = types.includes('integer')
          ? ['0x1', '01', '+1', '1e0', '1.0', '%201', '1%20', '', 'abc', '99999999999999999999']
          : types.includes('boolean')
            ? ['yes', '2', 'TRUE ']
            : [];
        for (const bad of bads) {
          const before = w.changes();
          const url = `${w.fill(path)}?${p.name}=${bad}`;
          const r = await w.send(method, url);
          const want = isId(p.schema) ? 'INVALID_ID' : 'VALIDATION_FAILED';
          expect([method, url, r.status, r.code]).toEqual([method, url, 400, want]);
          expect(w.changes()).toBe(before);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThanOrEqual(80);
  });

  it('the canonical forms still work and handlers get numbers', async () => {
    const w = await world();
    expect((await w.send('GET', `/properties/${w.prop.id}`)).body.id).toBe(w.prop.id);
    expect((await w.send('GET', `${w.base}/units/${w.ids.unitId}`)).body.id).toBe(w.ids.unitId);
    expect((await w.send('GET', `${w.base}/doors?unitId=${w.ids.unitId}`)).body.map((d: { id: number }) => d.id)).toEqual([w.door4b.id]);
    expect((await w.send('GET', `${w.base}/people?limit=1&offset=0`)).body).toHaveLength(1);
    expect((await w.send('GET', `${w.base}/people?includeExpired=true`)).status).toBe(200);
    expect((await w.send('GET', `${w.base}/activity?personId=${w.jane.id}&limit=5`)).status).toBe(200);
    expect((await w.send('GET', `${w.base}/units/9007199254740991`)).code).toBe('UNIT_NOT_FOUND');
  });

  it('DELETE …/units/0x1 does not delete unit 1; /properties/ 1, 1e0, 01, +1, 1.0 do not read property 1', async () => {
    const w = await world();
    const unit = w.ids.unitId!;
    const del = await w.send('DELETE', `${w.base}/units/0x${unit.toString(16)}`);
    expect([del.status, del.code]).toEqual([400, 'INVALID_ID']);
    expect(g.getUnit(w.db, unit).name).toBe('4B');
    for (const spelled of ['%201', '1e0', '01', '+1', '1.0']) {
      const r = await w.send('GET', `/properties/${spelled}`);
      expect([spelled, r.status, r.code, r.body.name]).toEqual([spelled, 400, 'INVALID_ID', undefined]);
    }
  });

  it('isCanonicalId: digits 1-9 then digits, up to 2^53 - 1', () => {
    for (const ok of ['1', '9', '10', '123', '9007199254740991']) expect(isCanonicalId(ok), ok).toBe(true);
    for (const bad of ['', '0', '01', '-1', '+1', ' 1', '1 ', '1e0', '0x1', '1.0', '9007199254740992', '10000000000000000', '١']) expect(isCanonicalId(bad), bad).toBe(false);
  });
});

describe('body fields are taken with their JSON type, on every route', () => {
  it('a wrong JSON type in any integer, number, boolean, string, array or nullable field is VALIDATION_FAILED naming the field; nothing is stored', async () => {
    const w = await world();
    let cases = 0;
    const routes = new Set<string>();
    for (const { path, method, op } of w.ops) {
      const schema = op.requestBody?.content?.['application/json']?.schema as Schema | undefined;
      if (!schema?.properties) continue;
      const base = sample({ ...schema, type: 'object' }) as Record<string, unknown>;
      for (const [field, fs] of Object.entries(schema.properties as Record<string, Schema>)) {
        const attempts: [unknown, string][] = wrongTypes(fs).map((v) => [v, `body/${field}`]);
        if (typesOf(fs).includes('array') && fs.items) {
          for (const v of wrongTypes(fs.items)) attempts.push([[v], `body/${field}/0`]);
        }
        for (const [wrong, where] of attempts) {
          const before = w.changes();
          const body = JSON.stringify({ ...base, [field]: wrong });
          const r = await w.send(method, w.fill(path), body);
          expect([method, path, body, r.status, r.code]).toEqual([method, path, body, 400, 'VALIDATION_FAILED']);
          expect(r.body.error.details.issues[0].path, `${method} ${path} ${body}`).toBe(where);
          expect(w.changes()).toBe(before);
          cases++;
          routes.add(`${method} ${path}`);
        }
      }
    }
    expect(routes.size).toBeGreaterThanOrEqual(30);
    expect(cases).toBeGreaterThan(300);
  });

  it('a number beyond ±(2^53 - 1) in any integer field (or inside an id array) is UNSAFE_INTEGER, not rounded', async () => {
    const w = await world();
    let cases = 0;
    for (const { path, method, op } of w.ops) {
      const schema = op.requestBody?.content?.['application/json']?.schema as Schema | undefined;
      if (!schema?.properties) continue;
      const base = sample({ ...schema, type: 'object' }) as Record<string, unknown>;
      for (const [field, fs] of Object.entries(schema.properties as Record<string, Schema>)) {
        const inArray = typesOf(fs).includes('array') && typesOf(fs.items ?? {}).includes('integer');
        if (!typesOf(fs).some((t) => t === 'integer' || t === 'number') && !inArray) continue;
        for (const big of ['9007199254740993', '9007199254740992', '-9007199254740993', '18446744073709551616', '1e16', '9.007199254740993e15', '1e400']) {
          const before = w.changes();
          // Spliced in as text: JSON.stringify could not even write these numbers.
          const body = JSON.stringify({ ...base, [field]: '@' }).replace('"@"', inArray ? `[${big}]` : big);
          const r = await w.send(method, w.fill(path), body);
          expect([method, path, body, r.status, r.code]).toEqual([method, path, body, 400, 'UNSAFE_INTEGER']);
          expect(w.changes()).toBe(before);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThanOrEqual(100);
    // The brief's example: a lock id sent as a number that JSON.parse would have rounded.
    const r = await w.send('POST', `${w.base}/doors`, '{"name":"X","lockId":9007199254740993,"connectivity":"offline"}');
    expect([r.status, r.code]).toEqual([400, 'UNSAFE_INTEGER']);
    expect(r.body.error.message).toContain('9007199254740993');
  });

  it('the largest safe values and big numbers inside strings are fine', async () => {
    const w = await world();
    expect((await w.send('GET', `${w.base}/people/9007199254740991`)).code).toBe('PERSON_NOT_FOUND');
    const safe = await w.send('PATCH', `${w.base}/people/${w.jane.id}`, '{"unitId":9007199254740991}');
    expect(safe.code).toBe('UNIT_NOT_FOUND');
    const inString = await w.send('POST', `${w.base}/units`, '{"name":"9007199254740993 \\" 18446744073709551616"}');
    expect([inString.status, inString.body.name]).toEqual([201, '9007199254740993 " 18446744073709551616']);
  });

  it('findUnsafeNumber skips strings (with escaped quotes and backslashes) and reads every number literal', () => {
    expect(findUnsafeNumber('{"a":1,"b":[2,-3.5,1e3,9007199254740991,-9007199254740991]}')).toBeUndefined();
    expect(findUnsafeNumber('{"a":"9007199254740993"}')).toBeUndefined();
    expect(findUnsafeNumber('{"a\\"9007199254740993":"\\\\","b":9007199254740993}')).toBe('9007199254740993');
    expect(findUnsafeNumber('{"a":"\\\\\\"","b":"x"}')).toBeUndefined();
    expect(findUnsafeNumber('[0.5, 12345678901234567890.5]')).toBe('12345678901234567890.5');
    expect(findUnsafeNumber('[9007199254740991.9]')).toBe('9007199254740991.9');
    expect(findUnsafeNumber('[1E16]')).toBe('1E16');
    expect(findUnsafeNumber('[1e-400, 0.000000000000000000001]')).toBeUndefined();
  });
});

describe('lock ids', () => {
  it('are exactly 16 lower-case hex digits; anything else is INVALID_LOCK_ID and stores nothing', async () => {
    const w = await world();
    const bad = [
      '00000000000000A1',
      ' 00000000000000a1',
      '00000000000000a1 ',
      '00000000000000a1\n',
      '0000000000000a1',
      '000000000000000a1',
      '00000000000000g1',
      '00:00:00:00:00:00:00-a1',
      '0000:0000:0000:00a1',
      '00 00 00 00 00 00 00 a1',
      '00:00:00:00:00:00:00:A1',
      '0x000000000000a1',
      '00:00:00:00:00:00:00:a1',
      '00-00-00-00-00-00-00-a1',
      '０００００００００００００００ａ１',
      '',
    ];
    for (const lockId of bad) {
      const before = w.changes();
      const door = await w.send('POST', `${w.base}/doors`, JSON.stringify({ name: 'X', lockId, connectivity: 'offline' }));
      expect([lockId, door.status, door.code]).toEqual([lockId, 400, 'INVALID_LOCK_ID']);
      const visit = await w.send('POST', `${w.base}/visits`, JSON.stringify({ lockId, receipt: 'AAAA' }));
      expect([lockId, visit.status, visit.code]).toEqual([lockId, 400, 'INVALID_LOCK_ID']);
      expect(w.changes()).toBe(before);
    }
    const asNumber = await w.send('POST', `${w.base}/doors`, JSON.stringify({ name: 'X', lockId: 1234, connectivity: 'offline' }));
    expect(asNumber.code).toBe('VALIDATION_FAILED');
    for (const [lockId, stored] of [
      ['00000000000000c1', '00000000000000c1'],
      ['00000000000000c2', '00000000000000c2'],
    ]) {
      const r = await w.send('POST', `${w.base}/doors`, JSON.stringify({ name: `Door ${stored}`, lockId, connectivity: 'offline' }));
      expect([r.status, r.body.lockId]).toEqual([201, stored]);
    }
  });
});

describe('text', () => {
  const NAME_BODIES = (w: Awaited<ReturnType<typeof world>>): [string, string, (name: string) => Record<string, unknown>][] => [
    ['POST', '/properties', (name) => ({ name, utcOffsetMin: 0 })],
    ['PATCH', w.base, (name) => ({ name })],
    ['POST', `${w.base}/units`, (name) => ({ name })],
    ['PATCH', `${w.base}/units/${w.ids.unitId}`, (name) => ({ name })],
    ['POST', `${w.base}/doors`, (name) => ({ name, lockId: '00000000000000d1', connectivity: 'offline' })],
    ['PATCH', `${w.base}/doors/${w.ids.doorId}`, (name) => ({ name })],
    ['POST', `${w.base}/keys`, (name) => ({ name, kind: 'communal', doorIds: [w.lobby.id] })],
    ['PATCH', `${w.base}/keys/${w.ids.keyId}`, (name) => ({ name })],
    ['POST', '/tokens', (name) => ({ name, role: 'read_only' })],
    ['POST', `${w.base}/people`, (name) => ({ email: 'new@example.com', firstName: name, lastName: 'Doe', accessType: 'app', keyIds: [w.entrances.id] })],
    ['POST', `${w.base}/people`, (name) => ({ email: 'new@example.com', firstName: 'Ann', lastName: name, accessType: 'app', keyIds: [w.entrances.id] })],
    ['PATCH', `${w.base}/people/${w.jane.id}`, (name) => ({ firstName: name })],
    ['PATCH', `${w.base}/people/${w.jane.id}`, (name) => ({ lastName: name })],
    ['POST', `${w.base}/people/${w.jane.id}/guests`, (name) => ({ email: 'g2@example.com', firstName: name, lastName: 'G', keyIds: [w.entrances.id] })],
    ['POST', `${w.base}/people/${w.jane.id}/guests`, (name) => ({ email: 'g2@example.com', firstName: 'G', lastName: name, keyIds: [w.entrances.id] })],
  ];

  it('a control character anywhere in a name is INVALID_TEXT on every route that takes a name; nothing is stored', async () => {
    const w = await world();
    for (const ctl of ['\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f', '\u2028', '\u2029']) {
      for (const name of [`Ann${ctl}Lee`, `${ctl}Ann`, `Ann${ctl}`]) {
        for (const [method, url, body] of NAME_BODIES(w)) {
          const before = w.changes();
          const r = await w.send(method, url, JSON.stringify(body(name)));
          expect([method, url, JSON.stringify(name), r.status, r.code]).toEqual([method, url, JSON.stringify(name), 400, 'INVALID_TEXT']);
          expect(w.changes()).toBe(before);
        }
      }
    }
    // Letters of any script, marks and emoji are names.
    for (const [method, url, body] of NAME_BODIES(w)) {
      const r = await w.send(method, url, JSON.stringify(body(`Zoë Ørsted-Łukasz 山田 😀 ${method}${url.length}`)));
      expect([method, url, r.status < 300]).toEqual([method, url, true]);
    }
  });

  it('a lone surrogate in any string of a body is INVALID_TEXT; a proper pair is fine', async () => {
    const w = await world();
    const cases: [string, string, string][] = [
      ['POST', `${w.base}/units`, '{"name":"a\\ud800b"}'],
      ['POST', `${w.base}/units`, '{"name":"\\udc00"}'],
      ['POST', `${w.base}/units`, '{"name":"a\\ude00\\ud83db"}'],
      ['PATCH', `${w.base}/people/${w.jane.id}`, '{"phone":"555\\ud800"}'],
      ['PATCH', `${w.base}/people/${w.jane.id}`, '{"externalRef":"x\\udbff"}'],
      ['POST', `${w.base}/people/${w.jane.id}/phone-keys`, `{"publicKey":"${'cd'.repeat(32)}","label":"\\ud800"}`],
      ['POST', `${w.base}/units`, '{"name\\ud800":"x"}'],
    ];
    for (const [method, url, body] of cases) {
      const before = w.changes();
      const r = await w.send(method, url, body);
      expect([body, r.status, r.code]).toEqual([body, 400, 'INVALID_TEXT']);
      expect(w.changes()).toBe(before);
    }
    const pair = await w.send('POST', `${w.base}/units`, '{"name":"a\\ud83d\\ude00b"}');
    expect([pair.status, pair.body.name]).toEqual([201, 'a😀b']);
    expect(findLoneSurrogate({ a: [1, { b: ['ok', 'x\ud800'] }] })).toBe('/a/1/b/1');
    expect(findLoneSurrogate({ a: ['😀'] })).toBeUndefined();
  });

  it('invalid UTF-8 in a body is INVALID_TEXT, not stored as U+FFFD', async () => {
    const w = await world();
    const json = (bytes: number[]) => Buffer.concat([Buffer.from('{"name":"A'), Buffer.from(bytes), Buffer.from('"}')]);
    for (const bytes of [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const before = w.changes();
      const r = await w.send('POST', `${w.base}/units`, json(bytes));
      expect([bytes, r.status, r.code]).toEqual([bytes, 400, 'INVALID_TEXT']);
      expect(w.changes()).toBe(before);
    }
    const ok = await w.send('POST', `${w.base}/units`, json([0xc3, 0xa9]));
    expect([ok.status, ok.body.name]).toEqual([201, 'Aé']);
    expect(w.db.prepare("SELECT count(*) AS n FROM units WHERE name LIKE '%' || char(65533) || '%'").get()).toEqual({ n: 0 });
  });

  it('malformed JSON, empty bodies and prototype poisoning keep their answers', async () => {
    const w = await world();
    expect((await w.send('POST', `${w.base}/units`, '{"name": ')).code).toBe('MALFORMED_JSON');
    expect((await w.send('POST', `${w.base}/units`, '')).code).toBe('MALFORMED_JSON');
    expect((await w.send('POST', `${w.base}/units`, '{"__proto__":{"x":1},"name":"q"}')).status).toBe(400);
    const bom = await w.send('POST', `${w.base}/units`, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"BOM"}')]));
    expect(bom.status).toBe(201);
  });
});

describe('CSV import', () => {
  it('a control character in First Name or Last Name is a row error (INVALID_TEXT); the other rows import; no such name reaches the people table', async () => {
    const w = await world();
    const csv =
      'First Name,Last Name,Email,Keys\r\n' +
      '"Multi\r\nLine",Smith,bob@example.com,Unit 4B\r\n' +
      'Cy,"Lee\tJr",cy@example.com,Unit 4B\r\n' +
      'Di,"\u0085Lo",di@example.com,Unit 4B\r\n' +
      'Ed,Ng,ed@example.com,Unit 4B\r\n';
    const up = await w.send('POST', `${w.base}/imports`, JSON.stringify({ csv }));
    expect(up.status).toBe(201);
    expect(up.body.rows.map((r: { line: number; status: string; errorCode: string | null }) => [r.line, r.status, r.errorCode])).toEqual([
      [2, 'error', 'INVALID_TEXT'],
      [4, 'error', 'INVALID_TEXT'],
      [5, 'error', 'INVALID_TEXT'],
      [6, 'ready', null],
    ]);
    expect(up.body.errors[0].errorMessage).toContain('First Name');
    expect(up.body.errors[1].errorMessage).toContain('Last Name');
    const applied = await w.send('POST', `${w.base}/imports/${up.body.import.id}/apply`, '{}');
    expect(applied.status).toBe(200);
    expect(applied.body.import.counts).toMatchObject({ imported: 1, error: 3 });
    const names = (w.db.prepare('SELECT first_name || last_name AS n FROM people').all() as { n: string }[]).map((r) => r.n);
    expect(names.some((n) => /[\u0000-\u001f\u007f-\u009f]/.test(n))).toBe(false);
    const report = await w.app.inject({ url: `${w.base}/imports/${up.body.import.id}/error-report`, headers: { authorization: `Bearer ${w.tokens.portfolio}` } });
    expect(report.body).toContain('INVALID_TEXT');
  });
});

describe('over a real listening server (raw bytes on the wire)', () => {
  it('invalid UTF-8, unsafe integers and non-canonical ids are refused; canonical requests work', async () => {
    const w = await world();
    const url = await w.app.listen({ port: 0, host: '127.0.0.1' });
    const headers = { authorization: `Bearer ${w.tokens.portfolio}`, 'content-type': 'application/json' };
    const post = async (path: string, body: Buffer | string) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : Uint8Array.from(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const before = w.changes();
    const latin1 = await post(`${w.base}/units`, Buffer.from([...Buffer.from('{"name":"Caf'), 0xe9, ...Buffer.from('"}')]));
    expect([latin1.status, latin1.body.error.code]).toEqual([400, 'INVALID_TEXT']);
    const surrogate = await post(`${w.base}/units`, Buffer.from([...Buffer.from('{"name":"x'), 0xed, 0xb0, 0x80, ...Buffer.from('"}')]));
    expect([surrogate.status, surrogate.body.error.code]).toEqual([400, 'INVALID_TEXT']);
    const big = await post(`${w.base}/doors`, '{"name":"Big","lockId":9007199254740993,"connectivity":"offline"}');
    expect([big.status, big.body.error.code]).toEqual([400, 'UNSAFE_INTEGER']);
    const bigId = await post(`${w.base}/keys`, `{"name":"K","kind":"communal","doorIds":[${w.lobby.id}, 9007199254740993]}`);
    expect([bigId.status, bigId.body.error.code]).toEqual([400, 'UNSAFE_INTEGER']);
    const lone = await post(`${w.base}/units`, '{"name":"\\ud800"}');
    expect([lone.status, lone.body.error.code]).toEqual([400, 'INVALID_TEXT']);
    for (const spelled of ['%201', '1e0', '01', '+1', '1.0', '0x1']) {
      const res = await fetch(`${url}/properties/${spelled}`, { headers });
      expect([spelled, res.status, ((await res.json()) as any).error.code]).toEqual([spelled, 400, 'INVALID_ID']);
    }
    const del = await fetch(`${url}${w.base}/units/0x${w.ids.unitId!.toString(16)}`, { method: 'DELETE', headers: { authorization: headers.authorization } });
    expect(del.status).toBe(400);
    expect(w.changes()).toBe(before);
    expect(g.getUnit(w.db, w.ids.unitId!).name).toBe('4B');
    const ok = await post(`${w.base}/units`, Buffer.from('{"name":"Café 5"}', 'utf8'));
    expect([ok.status, ok.body.name]).toEqual([201, 'Café 5']);
  });
});
