/**
 * Input is taken as written or refused, never silently turned into something else:
 *
 * - Path and query integers: Ajv's coercion reads "0x1", " 1", "1e0", "01", "+1" and "1.0" as 1,
 *   so `DELETE …/units/0x1` deleted unit 1. The raw strings are checked before the coercing
 *   validator runs: ids must be canonical decimal (INVALID_ID), other integers too
 *   (VALIDATION_FAILED). Handlers still receive numbers.
 * - JSON bodies: read as bytes and decoded as strict UTF-8 (invalid bytes used to become U+FFFD
 *   and be stored); numbers beyond ±(2^53 - 1), which JSON.parse rounds to a neighbour
 *   (9007199254740993 → 9007199254740992), are found in the source text (UNSAFE_INTEGER);
 *   strings holding a lone surrogate ("\ud800", not a character) are refused (INVALID_TEXT).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { isIdSchema } from './schemas.js';

type Schema = Record<string, unknown>;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const CANONICAL_ID = /^[1-9][0-9]{0,15}$/;
const CANONICAL_INTEGER = /^(?:0|-?[1-9][0-9]{0,15})$/;

export function isCanonicalId(v: string): boolean {
  return CANONICAL_ID.test(v) && Number(v) <= Number.MAX_SAFE_INTEGER;
}

export function isCanonicalInteger(v: string): boolean {
  return CANONICAL_INTEGER.test(v) && Math.abs(Number(v)) <= Number.MAX_SAFE_INTEGER;
}

const typesOf = (s: Schema): unknown[] => (Array.isArray(s.type) ? s.type : [s.type]);

interface ValidationIssue {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message: string;
}

/** What Fastify accepts from a validator compiler. */
export interface ValidatorFn {
  (data: unknown): boolean | { error: Error };
  errors?: ValidationIssue[] | null | undefined;
}

/**
 * Wraps the coercing validator of a params or querystring schema: every property the schema
 * types as an integer must arrive as canonical decimal text before it is converted.
 */
export function canonicalIntegers(schema: Schema, validate: ValidatorFn, part: 'path' | 'query'): ValidatorFn {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const ints = Object.entries(props)
    .filter(([, s]) => typesOf(s).includes('integer'))
    .map(([name, s]) => ({ name, id: isIdSchema(s) }));
  if (ints.length === 0) return validate;
  const fn: ValidatorFn = (data) => {
    if (data !== null && typeof data === 'object') {
      for (const { name, id } of ints) {
        const raw = (data as Record<string, unknown>)[name];
        for (const v of Array.isArray(raw) ? raw : [raw]) {
          if (typeof v !== 'string') continue;
          if (id && !isCanonicalId(v)) {
            return {
              error: new GatewayError(
                'INVALID_ID',
                `${part} parameter ${name} must be an id in decimal digits (1 to 9007199254740991; no sign, leading zeros, exponent, point or spaces), got ${JSON.stringify(v.slice(0, 40))}`,
              ),
            };
          }
          if (!id && !isCanonicalInteger(v)) {
            fn.errors = [
              {
                instancePath: `/${name}`,
                schemaPath: '#/canonicalInteger',
                keyword: 'canonicalInteger',
                params: {},
                message: 'must be an integer in decimal digits (no plus sign, leading zeros, exponent, point or spaces)',
              },
            ];
            return false;
          }
        }
      }
    }
    const ok = validate(data);
    fn.errors = validate.errors;
    return ok;
  };
  return fn;
}

/** Integer literals longer than this cannot exceed 2^53 - 1 (9007199254740991 has 16 digits). */
const SHORT_SAFE = 15;

function isSafeNumberLiteral(token: string): boolean {
  const exponent = token.includes('e') || token.includes('E');
  if (token.length <= SHORT_SAFE && !exponent) return true;
  if (!exponent && !token.includes('.')) {
    const v = BigInt(token);
    return (v < 0n ? -v : v) <= MAX_SAFE;
  }
  // Rounding is monotonic and 2^53 is a double: a value above 2^53 - 1 never reads as 2^53 - 1 or less.
  return Math.abs(Number(token)) <= Number.MAX_SAFE_INTEGER;
}

/** The first number literal of a (valid) JSON text whose magnitude exceeds 2^53 - 1, outside strings. */
export function findUnsafeNumber(text: string): string | undefined {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: the next quote not escaped by an odd run of backslashes.
      let from = i + 1;
      for (;;) {
        const k = text.indexOf('"', from);
        if (k < 0) return undefined;
        let slashes = 0;
        for (let b = k - 1; b > i && text.charCodeAt(b) === 0x5c; b--) slashes++;
        if (slashes % 2 === 0) {
          i = k + 1;
          break;
        }
        from = k + 1;
      }
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        // digits . e E + -
        if (!((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)) break;
      }
      const token = text.slice(i, j);
      if (!isSafeNumberLiteral(token)) return token;
      i = j;
      continue;
    }
    i++;
  }
  return undefined;
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** JSON pointer of the first string (or member name) holding a lone UTF-16 surrogate. */
export function findLoneSurrogate(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return path === '' ? '/' : path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}/${i}`]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return `${path}/${k}`;
        stack.push([x, `${path}/${k}`]);
      }
    }
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Replaces Fastify's application/json parser: strict UTF-8, then its own JSON parsing (empty
 * body, syntax errors and prototype poisoning handled as before), then the number and surrogate
 * checks. Route body limits still apply (the raw body is collected by Fastify).
 */
export function registerStrictJsonParser(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req: FastifyRequest, body: string | Buffer, done) => {
    let text: string;
    try {
      text = typeof body === 'string' ? body : utf8.decode(body);
    } catch {
      done(new GatewayError('INVALID_TEXT', 'the request body is not valid UTF-8'), undefined);
      return;
    }
    json(req, text, (err: Error | null, value?: unknown) => {
      if (err) {
        done(err, undefined);
        return;
      }
      const unsafe = findUnsafeNumber(text);
      if (unsafe !== undefined) {
        done(
          new GatewayError('UNSAFE_INTEGER', `the number ${unsafe.slice(0, 40)} is beyond ±9007199254740991 (2^53 - 1); JSON numbers that large are not read exactly. Send ids and counts within that range`),
          undefined,
        );
        return;
      }
      // A lone surrogate can only come from a \u escape: strict UTF-8 has no way to encode one.
      const at = text.includes('\\u') ? findLoneSurrogate(value) : undefined;
      if (at !== undefined) {
        done(new GatewayError('INVALID_TEXT', `body${at === '/' ? '' : at} holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape that is not half of a pair), which is not a character`), undefined);
        return;
      }
      done(null, value);
    });
  });
}
