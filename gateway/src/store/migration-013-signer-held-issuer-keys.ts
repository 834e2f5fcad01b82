import type { Db } from './db.js';
import { SEALED_SECRET_BYTES, UNSEAL_FUNCTION } from './key-encryption.js';

/**
 * Migration 13: an issuer key may be held by an external signer (a KMS, an HSM, a signing
 * process; compiler `signerFor`), so the store registers only its public half.
 *
 * issuer_keys is rebuilt with `secret_sealed` nullable: NULL means the store never had the
 * private key, and `secret_key` (the virtual column that unseals it) reads NULL too. The rows
 * are copied as they are, sealed bytes included (the associated data, property id, kid and
 * public key, does not change), so nothing is unsealed or re-sealed here.
 */
export const SIGNER_HELD_ISSUER_KEYS_VERSION = 13;

const COLUMNS = 'id, property_id, kid, algorithm, public_key, secret_sealed, status, created_at, activated_at, retired_at';

export function allowSignerHeldIssuerKeys(db: Db): void {
  db.exec(`
CREATE TABLE issuer_keys_v13 (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  kid TEXT NOT NULL CHECK (length(kid) BETWEEN 1 AND 64),
  algorithm TEXT NOT NULL DEFAULT 'Ed25519' CHECK (algorithm = 'Ed25519'),
  public_key BLOB NOT NULL CHECK (length(public_key) = 32),
  -- The Ed25519 seed sealed under the store's key-encryption key, or NULL when an external
  -- signer holds the key and the store never had it.
  secret_sealed BLOB CHECK (secret_sealed IS NULL OR length(secret_sealed) = ${SEALED_SECRET_BYTES}),
  secret_key BLOB GENERATED ALWAYS AS (${UNSEAL_FUNCTION}(property_id, kid, public_key, secret_sealed)) VIRTUAL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'retired')),
  created_at INTEGER NOT NULL,
  activated_at INTEGER,
  retired_at INTEGER,
  UNIQUE (property_id, kid)
);
INSERT INTO issuer_keys_v13 (${COLUMNS}) SELECT ${COLUMNS} FROM issuer_keys ORDER BY id;
DROP TABLE issuer_keys;
ALTER TABLE issuer_keys_v13 RENAME TO issuer_keys;
CREATE UNIQUE INDEX issuer_keys_one_active ON issuer_keys(property_id) WHERE status = 'active';`);
}
