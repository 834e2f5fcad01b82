import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, bit, bool, nowOf, one, run, tx, type Ctx } from './base.js';
import { requireName } from './validate.js';

export type Role = 'portfolio_manager' | 'property_manager' | 'read_only';

/**
 * What a token may do. Portfolio managers may do everything in every property; property managers
 * manage one property, and change who opens which door only with Key Management permission;
 * read-only tokens only read (one property, or all when unscoped).
 */
export interface Principal {
  tokenId: number;
  name: string;
  role: Role;
  keyManagement: boolean;
  /** null = every property. */
  propertyId: number | null;
}

export interface ApiToken extends Principal {
  createdAt: number;
  revokedAt: number | null;
}

const COLS = `id AS tokenId, name, role, key_management AS keyManagement, property_id AS propertyId, created_at AS createdAt,
  revoked_at AS revokedAt`;

type Row = Omit<ApiToken, 'keyManagement'> & { keyManagement: number };
const toToken = (r: Row): ApiToken => ({ ...r, keyManagement: bool(r.keyManagement) });

// Tokens are 256 random bits, so a fast hash is enough at rest: there is nothing to brute-force.
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface TokenInput {
  name: string;
  role: Role;
  propertyId?: number | null;
  keyManagement?: boolean;
}

/** Creates a token and returns its secret. Only the hash is stored; the secret is shown once. */
export function createToken(db: Db, input: TokenInput, ctx: Ctx = {}): { token: ApiToken; secret: string } {
  const name = requireName(input.name, 'token name');
  const propertyId = input.propertyId ?? null;
  if (input.role === 'portfolio_manager' && propertyId !== null) {
    throw new GatewayError('INVALID_ARGUMENT', 'a portfolio manager token covers every property; drop the property');
  }
  if (input.role === 'property_manager' && propertyId === null) {
    throw new GatewayError('INVALID_ARGUMENT', 'a property manager token needs the property it manages');
  }
  if (input.role === 'read_only' && input.keyManagement) {
    throw new GatewayError('INVALID_ARGUMENT', 'a read-only token cannot have Key Management permission');
  }
  const km = input.role === 'portfolio_manager' ? true : input.role === 'read_only' ? false : (input.keyManagement ?? false);
  return tx(db, () => {
    if (propertyId !== null && !one(db, 'SELECT 1 FROM properties WHERE id = ?', propertyId)) {
      throw new GatewayError('PROPERTY_NOT_FOUND', `property ${propertyId} does not exist`);
    }
    const secret = `lk_${randomBytes(32).toString('base64url')}`;
    const { lastInsertRowid } = run(
      db,
      'INSERT INTO api_tokens (name, role, key_management, property_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      name,
      input.role,
      bit(km),
      propertyId,
      hashToken(secret),
      nowOf(ctx),
    );
    return { token: getToken(db, lastInsertRowid), secret };
  });
}

export function getToken(db: Db, id: number): ApiToken {
  const r = one<Row>(db, `SELECT ${COLS} FROM api_tokens WHERE id = ?`, id);
  if (!r) throw new GatewayError('TOKEN_NOT_FOUND', `token ${id} does not exist`);
  return toToken(r);
}

export function listTokens(db: Db): ApiToken[] {
  return all<Row>(db, `SELECT ${COLS} FROM api_tokens ORDER BY id`).map(toToken);
}

export function revokeToken(db: Db, id: number, ctx: Ctx = {}): ApiToken {
  return tx(db, () => {
    getToken(db, id);
    run(db, 'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?', nowOf(ctx), id);
    return getToken(db, id);
  });
}

/** The principal behind a bearer secret, or undefined if unknown or revoked. */
export function authenticate(db: Db, secret: string): Principal | undefined {
  const r = one<Row>(db, `SELECT ${COLS} FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL`, hashToken(secret));
  if (!r) return undefined;
  const { createdAt: _c, revokedAt: _r, ...principal } = toToken(r);
  return principal;
}

/** The kinds of action the API distinguishes; see API.md "Roles". */
export type Permission = 'read' | 'configure' | 'key_management' | 'portfolio';

/** Throws the stable 403 code for a role that may not act, or returns silently. */
export function authorize(p: Principal, permission: Permission): void {
  if (permission === 'read') return;
  if (p.role === 'read_only') throw new GatewayError('READ_ONLY_TOKEN', `token "${p.name}" is read-only`);
  if (permission === 'portfolio' && p.role !== 'portfolio_manager') {
    throw new GatewayError('PORTFOLIO_MANAGER_REQUIRED', 'only a portfolio manager may do this');
  }
  if (permission === 'key_management' && !p.keyManagement) {
    throw new GatewayError(
      'KEY_MANAGEMENT_REQUIRED',
      'this changes who can open which door and needs Key Management permission; ask a portfolio manager to grant it',
    );
  }
}

export function authorizeProperty(p: Principal, propertyId: number): void {
  if (p.propertyId !== null && p.propertyId !== propertyId) {
    throw new GatewayError('PROPERTY_OUT_OF_SCOPE', `token "${p.name}" is limited to property ${p.propertyId}`);
  }
}
