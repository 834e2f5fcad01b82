/**
 * Seeded generator of a lobby door's credentials, shaped like a real multifamily property:
 * every resident has a phone key and a static doorcode, about half a keycard, some a daily
 * code; guests have short windows; a few contractors have weekday schedules.
 */
import type { CredentialSpec } from '@latchkit/protocol';

/** Small fast PRNG (mulberry32): benchmarks and tests must be reproducible from a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytesFrom(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

export interface LobbyOptions {
  /** Approximate number of credentials to produce. */
  credentials: number;
  seed?: number;
  /** "Now" in Unix minutes, around which windows are placed. */
  nowMinutes?: number;
  /** First holder reference to use. */
  firstHolder?: number;
}

export interface LobbyHolder {
  holder: number;
  role: 'resident' | 'guest' | 'contractor';
  specs: CredentialSpec[];
}

/** 2026-11-01T00:00Z in minutes; fixed so generated sets are byte-stable across runs. */
export const GENERATOR_EPOCH_MINUTES = 29_843_520;

export function lobbyHolders(o: LobbyOptions): LobbyHolder[] {
  const rand = prng(o.seed ?? 1);
  const now = o.nowMinutes ?? GENERATOR_EPOCH_MINUTES;
  const day = 1440;
  const usedCodes = new Set<string>();
  const holders: LobbyHolder[] = [];
  let total = 0;
  let ref = o.firstHolder ?? 1000;
  const code = (): string => {
    for (;;) {
      const c = String(Math.floor(rand() * 1e6)).padStart(6, '0');
      if (!usedCodes.has(c)) {
        usedCodes.add(c);
        return c;
      }
    }
  };
  while (total < o.credentials) {
    const holder = ref++;
    const r = rand();
    const role: LobbyHolder['role'] = r < 0.9 ? 'resident' : r < 0.97 ? 'guest' : 'contractor';
    let start: number | null = null;
    let end: number | null = null;
    let schedule: CredentialSpec['schedule'] = null;
    if (role === 'resident') {
      // Most residents moved in long ago with no end (start kept as the move-in date);
      // some have a lease end, some a future move-in that the lock activates on its own.
      const w = rand();
      if (w < 0.55) start = null;
      else if (w < 0.85) start = now - Math.floor(rand() * 700) * day;
      else start = now + Math.floor(rand() * 30) * day + 15;
      if (rand() < 0.3) end = now + (30 + Math.floor(rand() * 365)) * day;
    } else if (role === 'guest') {
      start = now + Math.floor(rand() * 14) * day + Math.floor(rand() * 24) * 60;
      end = start + (1 + Math.floor(rand() * 7)) * day;
    } else {
      schedule = { days: 0b0011111, from: 8 * 60, to: 18 * 60 };
      end = now + 90 * day;
    }
    const common = { holder, start, end, schedule };
    const specs: CredentialSpec[] = [
      { ...common, kind: 'phone', publicKey: randomBytesFrom(rand, 32) },
      { ...common, kind: 'doorcode', code: code() },
    ];
    if (role === 'resident' && rand() < 0.5) specs.push({ ...common, kind: 'keycard', uid: randomBytesFrom(rand, 7) });
    if (role !== 'resident' || rand() < 0.08) specs.push({ ...common, kind: 'daily' });
    holders.push({ holder, role, specs });
    total += specs.length;
  }
  return holders;
}

export function lobbySpecs(o: LobbyOptions): CredentialSpec[] {
  return lobbyHolders(o).flatMap((h) => h.specs);
}
