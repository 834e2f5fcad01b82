/**
 * The web console, served by `latchkit serve` at `/` from the same origin as the API.
 *
 * The browser code (gateway/console/app, Preact + TypeScript) is bundled with esbuild when the
 * server starts, in memory: no build step before `npm start`, no files written, and no CDN at
 * run time (Preact comes from node_modules into the bundle). Bundling takes ~100 ms; the bundle
 * is made once per process.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const here = dirname(fileURLToPath(import.meta.url));
// Running from the TypeScript sources (a repository checkout) the bundle takes the workspace
// packages from their sources too, as tsx and vitest do; installed (dist/*.js), from their
// dist/, where the source entries of their exports do not exist. Setting conditions drops
// esbuild's default 'module' condition, hence listed again.
const sourceConditions = import.meta.url.endsWith('.ts') ? { conditions: ['@latchkit/source', 'module'] } : {};

export interface ConsoleBundle {
  js: string;
  css: string;
  html: string;
}

let cached: Promise<ConsoleBundle> | null = null;

/** Bundle the console (once per process). */
export function consoleBundle(): Promise<ConsoleBundle> {
  cached ??= (async () => {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [join(here, 'app', 'main.tsx')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      ...sourceConditions,
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'silent',
    });
    const js = result.outputFiles[0]!.text;
    const css = readFileSync(join(here, 'app', 'style.css'), 'utf8');
    const html = readFileSync(join(here, 'app', 'index.html'), 'utf8');
    return { js, css, html };
  })();
  return cached;
}

const text = { type: 'string' } as const;

/** Add `GET /`, `/console/app.js` and `/console/app.css` (public: the token stays in the browser). */
export async function registerConsole(app: FastifyInstance): Promise<void> {
  const bundle = await consoleBundle();
  const route = (url: string, type: string, body: () => string, querystring: Record<string, unknown>): void => {
    app.get(
      url,
      {
        config: { public: true },
        schema: { operationId: `console${url === '/' ? 'Page' : url.endsWith('.js') ? 'Script' : 'Styles'}`, summary: `The web console (${type})`, tags: ['console'], querystring, response: { 200: text } },
      },
      async (_req, reply) => reply.header('content-type', type).header('cache-control', 'no-cache').send(body()),
    );
  };
  const noQuery = { type: 'object', additionalProperties: false, properties: {} };
  // `?token=` logs a user in (serve --demo prints such a URL); the page moves it out of the URL at once.
  route('/', 'text/html; charset=utf-8', () => bundle.html, { type: 'object', additionalProperties: false, properties: { token: { type: 'string', maxLength: 200 } } });
  route('/console/app.js', 'text/javascript; charset=utf-8', () => bundle.js, noQuery);
  route('/console/app.css', 'text/css; charset=utf-8', () => bundle.css, noQuery);
}
