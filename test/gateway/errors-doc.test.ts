import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LatchkitError } from '@latchkit/protocol';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, GatewayError } from '../../gateway/src/errors.js';
import { buildApp } from '../../gateway/src/api/app.js';
import { openStore } from '../../gateway/src/index.js';

const root = join(import.meta.dirname, '..', '..', 'gateway');
const apiMd = readFileSync(join(root, 'API.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('error catalogue', () => {
  it('every code is documented in API.md with its HTTP status, and API.md lists no other code', () => {
    const documented = new Map<string, number>();
    for (const m of apiMd.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|/gm)) documented.set(m[1]!, Number(m[2]));
    const catalogue = new Map(Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, e.status as number]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(catalogue));
  });

  it('every code is raised somewhere in the gateway (no dead codes)', () => {
    const code = sources(join(root, 'src'))
      .filter((p) => !p.endsWith('errors.ts'))
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
    for (const c of Object.keys(ERROR_CATALOGUE)) expect(code, c).toContain(`'${c}'`);
  });

  it('GatewayError is a LatchkitError carrying the catalogue status', () => {
    const e = new GatewayError('PERSON_NOT_FOUND', 'person 1 does not exist');
    expect([e.code, e.httpStatus, e.message, e.name, e instanceof LatchkitError]).toEqual(['PERSON_NOT_FOUND', 404, 'person 1 does not exist', 'GatewayError', true]);
    expect(new GatewayError('INVALID_ARGUMENT', 'x', { got: 3 }).details).toEqual({ got: 3 });
  });

  it('API.md lists every route of the server', async () => {
    const db = openStore({ file: ':memory:' });
    const app = await buildApp({ db });
    const doc = JSON.parse((await app.inject({ url: '/openapi.json' })).body) as { paths: Record<string, Record<string, unknown>> };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) expect(apiMd, `${method} ${path}`).toContain(`\`${method.toUpperCase()} ${path}\``);
    }
    await app.close();
    db.close();
  });
});
