/**
 * `npm run bench -- protocol [--quick] [--check]`
 *
 * A 10,000-credential lobby door (bench/lobby.ts): set size per credential, the size of a
 * one-resident delta, backend compile+sign time, and the lock-side cost of verifying,
 * decrypting and installing the full set and the delta, per crypto provider. The same
 * credentials encoded as one CBOR map per entry are the baseline, measured in the same run.
 * Sizes are deterministic (seeded generator), so --check judges them strictly; CPU times are
 * reported, never checked, because CI machines are noisy.
 */
import type { CryptoProvider, Entry } from '@latchkit/protocol';
import { CredentialSet, deriveIndexKey, encodeCbor, entriesFromSpecs, issueDelta, issueFullSet, nobleProvider, openSetMessage, signingKeyFromSeed } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import os from 'node:os';
import type { BenchOptions } from './run.js';
import { lobbyHolders } from './lobby.js';

export const TARGETS = { bytes_per_credential: 16, bytes_per_credential_aim: 12, delta_bytes_one_resident: 300 } as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(iterations: number, fn: () => void): { median_ms: number; min_ms: number; runs: number } {
  fn(); // warm-up: JIT and key caches
  const xs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    xs.push(performance.now() - t);
  }
  return { median_ms: round(median(xs)), min_ms: round(Math.min(...xs)), runs: iterations };
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Naive baseline: each credential as its own CBOR map with string keys. */
function cborMapPerEntry(entries: readonly Entry[]): Uint8Array {
  return encodeCbor(entries.map((e) => ({ kind: e.kind, key: e.key, holder: e.holder, start: e.start, end: e.end, schedule: e.schedule })));
}

export async function run(o: BenchOptions): Promise<object> {
  const credentials = 10_000;
  const iterations = o.quick ? 5 : 25;
  const lockId = Uint8Array.from([0x4c, 0x4b, 0, 0, 0, 0, 0x10, 0x01]);
  const contentKey = new Uint8Array(32).fill(0x42);
  const secrets = { daily: new Uint8Array(32).fill(1), cardMaster: new Uint8Array(32).fill(2) };
  const issuer = signingKeyFromSeed(new Uint8Array(32).fill(3));
  const indexKey = deriveIndexKey(contentKey, lockId);
  const now = 1_795_435_200;

  const holders = lobbyHolders({ credentials, seed: 1 });
  const specs = holders.flatMap((h) => h.specs);
  const entries = entriesFromSpecs(specs, indexKey);
  const kinds: Record<string, number> = {};
  for (const s of specs) kinds[s.kind] = (kinds[s.kind] ?? 0) + 1;
  o.log(`lobby door: ${specs.length} credentials from ${holders.length} holders ${JSON.stringify(kinds)}`);

  // One resident moves out, another moves in: the everyday change at a lobby door.
  const leaving = holders.find((h) => h.role === 'resident' && h.specs.some((s) => s.kind === 'keycard'))!;
  const arriving = lobbyHolders({ credentials: 4, seed: 77, firstHolder: 5_000_000 }).find((h) => h.role === 'resident')!;
  const nextEntries = entriesFromSpecs([...specs.filter((s) => s.holder !== leaving.holder), ...arriving.specs], indexKey);

  const common = { issuer, lockId, contentKey, secrets };
  const full = issueFullSet({ ...common, seq: 1, issuedAt: now, entries });
  const delta = issueDelta({ ...common, seq: 2, issuedAt: now + 60, entries: nextEntries, base: { seq: 1, body: full.body } });
  const baseline = cborMapPerEntry(entries);

  const perProvider: Record<string, object> = {};
  for (const provider of [nobleProvider, nodeCryptoProvider] as CryptoProvider[]) {
    o.log(`timing with the ${provider.name} provider (${iterations} runs each)`);
    const state = { lockId, anchors: [issuer.publicKey], contentKey, provider };
    const current = CredentialSet.parse(full.body);
    perProvider[provider.name] = {
      backend_compile_sign_full_ms: time(iterations, () => issueFullSet({ ...common, seq: 1, issuedAt: now, entries, provider })),
      backend_compile_sign_delta_ms: time(iterations, () => issueDelta({ ...common, seq: 2, issuedAt: now, entries: nextEntries, base: { seq: 1, body: full.body }, provider })),
      lock_verify_decrypt_install_full_ms: time(iterations, () => openSetMessage(full.bytes, { ...state, seq: 0, current: null })),
      lock_verify_decrypt_install_delta_ms: time(iterations, () => openSetMessage(delta.bytes, { ...state, seq: 1, current })),
    };
  }

  const result = {
    scenario: 'protocol',
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
    credentials: specs.length,
    holders: holders.length,
    kinds,
    set_bytes: full.bytes.length,
    body_bytes: full.body.length,
    bytes_per_credential: round(full.bytes.length / specs.length),
    delta_bytes_one_resident: delta.bytes.length,
    delta_change: { removed: delta.changes.removed.length, upserted: delta.changes.upserts.length, leaving_holder_credentials: leaving.specs.length, arriving_holder_credentials: arriving.specs.length },
    baseline_cbor_map_per_entry: { bytes: baseline.length, bytes_per_credential: round(baseline.length / specs.length), ratio_to_packed: round(baseline.length / full.bytes.length) },
    targets: TARGETS,
    cpu: perProvider,
  };

  if (o.check) {
    const failures: string[] = [];
    if (result.bytes_per_credential > TARGETS.bytes_per_credential) failures.push(`bytes_per_credential ${result.bytes_per_credential} > ${TARGETS.bytes_per_credential}`);
    if (result.delta_bytes_one_resident > TARGETS.delta_bytes_one_resident) failures.push(`delta_bytes_one_resident ${result.delta_bytes_one_resident} > ${TARGETS.delta_bytes_one_resident}`);
    if (result.baseline_cbor_map_per_entry.ratio_to_packed < 3) failures.push('packed layout lost its advantage over CBOR maps (ratio < 3)');
    if (failures.length > 0) throw new Error(`protocol budget check failed: ${failures.join('; ')}`);
    o.log('protocol budget check passed');
  }
  return result;
}
