/**
 * README's `## Walkthrough`: its first ```sh block, run as written with bash from the repository
 * root (a real `latchkit serve --demo` in the background, real `latchkit` commands over HTTP).
 * If the README and the code drift apart, this fails.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function walkthroughBlock(readme: string): string {
  const at = readme.indexOf('\n## Walkthrough\n');
  if (at < 0) throw new Error('README.md has no "## Walkthrough" section');
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error('the Walkthrough section has no ```sh block');
  return m[1]!;
}

describe('README walkthrough', () => {
  it('runs as written: GRANTED, still GRANTED after the revoke, DENIED after the Door Sync, the denial in Activity', () => {
    const block = walkthroughBlock(readFileSync(join(root, 'README.md'), 'utf8'));
    const env = { ...process.env };
    delete env['LATCHKIT_STATE_DIR'];
    delete env['LATCHKIT_TOKEN'];
    delete env['LATCHKIT_SERVER'];
    const r = spawnSync('bash', ['-c', block], { cwd: root, env, encoding: 'utf8', timeout: 150_000 });
    const out = `${r.stdout}\n--- stderr ---\n${r.stderr}`;
    expect(r.status, out).toBe(0);
    const lines = r.stdout.split('\n');
    const keypad = lines.filter((l) => l.startsWith('keypad '));
    expect(keypad.map((l) => /: (GRANTED|DENIED)/.exec(l)?.[1]), out).toEqual(['GRANTED', 'GRANTED', 'DENIED']);
    expect(r.stdout).toMatch(/Door Sync of door 4: seq 0 -> 1, commissioned/);
    expect(r.stdout).toMatch(/1A front door +offline behind \(1 of 2\)/);
    expect(r.stdout).toMatch(/Door Sync of door 4: seq 1 -> 2, delta/);
    // Activity (newest first) holds the denial, from the door's own event log.
    expect(r.stdout).toMatch(/denied 1A front door/);
    // The live stream printed its last events, each with an id.
    expect(lines.filter((l) => /^#\d+ /.test(l)).length).toBeGreaterThanOrEqual(5);
  }, 180_000);
});
