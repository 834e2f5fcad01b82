/**
 * File-backed flash keeps a bounded number of files open across every lock of a process: a
 * world of 10,000 locks (40,000 region files) must not run out of descriptors, and a file closed
 * to make room reads back exactly what was written.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileFlash } from '../../../simulator/src/lock/lock-dir.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('FileFlash', () => {
  it('3,000 flashes of 4 regions each stay under ~1,100 open files and read back what they wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-fileflash-'));
    const sizes = { slot0: 64, slot1: 64, commit: 64, events: 64, journal: 64, changes: 64 } as const;
    const flashes: FileFlash[] = [];
    const before = openFds();
    try {
      for (let i = 0; i < 3_000; i++) {
        const f = new FileFlash(join(dir, String(i)), sizes);
        mkdirSync(join(dir, String(i)));
        for (const region of ['slot0', 'slot1', 'commit', 'events'] as const) f.program(region, 0, Uint8Array.of(i & 0xff, i >> 8, 0x5a));
        flashes.push(f);
      }
      expect(openFds() - before).toBeLessThanOrEqual(1_100);
      for (let i = 0; i < 3_000; i += 7) {
        for (const region of ['slot0', 'events'] as const) expect([...flashes[i]!.read(region, 0, 4)]).toEqual([i & 0xff, i >> 8, 0x5a, 0xff]);
      }
      for (const f of flashes) f.close();
      expect(openFds()).toBeLessThanOrEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
