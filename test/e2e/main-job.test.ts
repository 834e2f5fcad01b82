/** The `npm start` main job, small, so CI proves it still runs end to end and the rule holds. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runDemo } from '../../gateway/src/main.js';

describe('main job', () => {
  it('builds a property, syncs every door, unlocks with each kind, and shows the sync-until rule', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-main-'));
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    try {
      const s = (await runDemo({ units: 12, stateDir: dir, seed: 5 })) as Record<string, any>;
      expect(s.doors).toEqual({ total: 15, online: 3, offline: 12 });
      expect(s.sync_until_rule).toEqual({ granted_before_sync: true, granted_after_sync: false });
      // ~50 credentials: the fixed ~230 bytes of envelope and secrets still weigh in. The 16-byte
      // target is for large sets and is checked by `npm run bench -- protocol --check`.
      expect(s.entrance_set.credentials).toBeGreaterThan(30);
      expect(s.entrance_set.bytes_per_credential).toBeLessThan(20);
      expect(s.modelled_ms.phone_unlock_ios.p50).toBeGreaterThan(s.modelled_ms.phone_unlock_android.p50);
    } finally {
      spy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
    const text = out.join('');
    for (const line of ['phone key (ios)', 'doorcode', 'keycard', 'a clone of that card (right UID, no key): denied', 'doors behind after the first sync: 0']) {
      expect(text).toContain(line);
    }
  });
});
