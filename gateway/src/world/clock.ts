/**
 * The world's clock: wall time plus an offset that only grows, persisted in the state directory
 * (`world.json`), so "advance 3 days" shows an expiration without waiting, survives a restart,
 * and every process working on that state directory (the server, a CLI command) agrees on "now".
 *
 * Locks read it as their host clock (their RTC runs on it), the gateway stamps changes and sets
 * with it, and the API reports it. It never goes backwards: a lock's clock only moves forward
 * on signed time, and a world clock that jumped back would make every lock disagree with the
 * gateway about which grants are in force.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import type { Clock } from '../time.js';

export const WORLD_FILE_NAME = 'world.json';

/** What `world.json` holds: the clock offset and the secret simulated keys are derived from. */
export interface WorldFile {
  /** Milliseconds the world is ahead of wall time. */
  clockOffsetMs: number;
  /** 32 bytes as hex: device seeds of simulated locks and keys of simulated phones derive from it. */
  secret: string;
}

export function readWorldFile(stateDir: string): WorldFile | null {
  const path = join(stateDir, WORLD_FILE_NAME);
  if (!existsSync(path)) return null;
  let f: WorldFile;
  try {
    f = JSON.parse(readFileSync(path, 'utf8')) as WorldFile;
  } catch (cause) {
    throw new GatewayError('INVALID_ARGUMENT', `${path} is not valid JSON`, { cause: String(cause) });
  }
  if (!Number.isFinite(f.clockOffsetMs) || f.clockOffsetMs < 0 || typeof f.secret !== 'string' || !/^[0-9a-f]{64}$/.test(f.secret)) {
    throw new GatewayError('INVALID_ARGUMENT', `${path} must hold {"clockOffsetMs": a number >= 0, "secret": 64 hex digits}`);
  }
  return f;
}

export function writeWorldFile(stateDir: string, f: WorldFile): void {
  const path = join(stateDir, WORLD_FILE_NAME);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** A clock for a CLI command on a state directory: the world's time if a world ran there. */
export function stateDirClock(stateDir: string): Clock | undefined {
  const f = readWorldFile(stateDir);
  if (!f || f.clockOffsetMs === 0) return undefined;
  return () => Date.now() + f.clockOffsetMs;
}

export class WorldClock {
  private offsetMs: number;

  constructor(
    offsetMs: number,
    private readonly persist: (offsetMs: number) => void,
    private readonly wall: Clock = Date.now,
  ) {
    this.offsetMs = offsetMs;
  }

  readonly now: Clock = () => this.wall() + this.offsetMs;

  get aheadMs(): number {
    return this.offsetMs;
  }

  /** Move the world forward; a negative, zero-free or non-finite amount is refused. */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms <= 0) {
      throw new GatewayError('CLOCK_BACKWARDS', `the world clock only moves forward: expected a positive number of ms, got ${ms}`);
    }
    if (ms > 10 * 365 * 86_400_000) throw new GatewayError('INVALID_ARGUMENT', `advance at most 10 years at a time, got ${ms} ms`);
    this.offsetMs += ms;
    this.persist(this.offsetMs);
    return this.now();
  }
}
