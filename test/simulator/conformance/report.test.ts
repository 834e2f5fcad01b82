/**
 * The conformance reports: JUnit XML that a real JUnit consumer (junit2json, over the xml2js
 * parser) reads back to the same counts, cases and failure messages, even when a lock answered
 * bytes that are not valid XML text; and the terminal table and progress line.
 */
import { parse } from 'junit2json';
import { describe, expect, it } from 'vitest';
import { formatTable, progressLine, toJunit, type CaseResult, type RunReport } from '../../../simulator/src/conformance/index.js';

function result(over: Partial<CaseResult> & Pick<CaseResult, 'id' | 'status'>): CaseResult {
  return { title: `title of ${over.id}`, section: '§6.2 S4', observed: 'ok', manual: null, wallMs: 12, modelledMs: 240.5, answersMs: [1.5, 0.5, 3], ...over };
}

const report: RunReport = {
  target: 'simulated lock 4c4b00000000c0f0 (mutant stale-sequence) on the virtual radio',
  radio: 'virtual',
  lockId: '4c4b00000000c0f0',
  startedAt: '2026-12-06T23:40:00.123Z',
  wallMs: 1234,
  results: [
    result({ id: 'sync.full-set', status: 'pass', observed: 'status 0, receipt seq 1' }),
    // What a broken lock said, with characters XML 1.0 cannot carry and markup characters.
    result({ id: 'refuse.stale-sequence', status: 'fail', observed: 'accepted (status 0) <seq 3> & "more" \u0000\u0007\ud800 end' }),
    result({ id: 'door.keypad', status: 'skip', observed: 'manual: needs a person', manual: ['Type 246813 and #.', 'Type 000000 and #.'], wallMs: 0, modelledMs: null, answersMs: [] }),
  ],
  summary: { pass: 1, fail: 1, skip: 1, automatic: 2 },
  ok: false,
  issuer: { anchor: 'aa', residentDoorcode: '246813', residentPhonePublic: 'bb', residentCard: { uid: 'cc', key: 'dd' } },
};

describe('JUnit XML', () => {
  it('reads back through a JUnit consumer with the counts, cases, failure and skip', async () => {
    const xml = toJunit(report);
    const parsed = (await parse(xml)) as unknown as {
      name: string;
      tests: number;
      failures: number;
      skipped: number;
      testsuite: Array<{ name: string; tests: number; failures: number; skipped: number; time: number; testcase: Array<{ classname: string; name: string; time: number; failure?: Array<{ message: string; type: string }>; skipped?: Array<{ message: string }> }> }>;
    };
    expect(parsed).toMatchObject({ name: 'latchkit conform', tests: 3, failures: 1, skipped: 1 });
    const suite = parsed.testsuite[0]!;
    expect(suite).toMatchObject({ name: report.target, tests: 3, failures: 1, skipped: 1, time: 1.234 });
    expect(suite.testcase.map((c) => [c.classname, c.name.split(':')[0], c.time])).toEqual([
      ['latchkit.conform.sync', 'sync.full-set', 0.012],
      ['latchkit.conform.refuse', 'refuse.stale-sequence', 0.012],
      ['latchkit.conform.door', 'door.keypad', 0],
    ]);
    const failure = suite.testcase[1]!.failure![0]!;
    expect(failure.type).toBe('CONFORMANCE_FAILED');
    expect(failure.message).toBe('accepted (status 0) <seq 3> & "more" \ufffd\ufffd\ufffd end');
    expect(suite.testcase[2]!.skipped![0]!.message).toBe('manual: needs a person');
    expect(suite.testcase[0]!.failure).toBeUndefined();
  });
});

describe('terminal output', () => {
  it('a table row per case, the manual steps, and a verdict line', () => {
    const text = formatTable(report);
    expect(text).toMatch(/^PASS +sync\.full-set +§6\.2 S4 +12 +240\.5 +1\.5\/3 \(3\) +status 0, receipt seq 1$/m);
    expect(text).toMatch(/^FAIL +refuse\.stale-sequence /m);
    expect(text).toMatch(/^SKIP +door\.keypad .* - +- +manual: needs a person$/m);
    expect(text).toContain('    1. Type 246813 and #.');
    expect(text.trimEnd().split('\n').pop()).toBe('1 passed, 1 failed, 1 skipped (3 cases, 1234 ms): DOES NOT CONFORM');
  });

  it('a progress line as a case starts and as it ends', () => {
    expect(progressLine({ index: 2, total: 35, id: 'sync.delta' })).toBe('[ 3/35] .... sync.delta');
    expect(progressLine({ index: 2, total: 35, id: 'sync.delta', result: result({ id: 'sync.delta', status: 'fail' }) })).toBe('[ 3/35] FAIL sync.delta (12 ms)');
  });
});
