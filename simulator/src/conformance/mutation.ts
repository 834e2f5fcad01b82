/**
 * The mutation score: the suite against every rule mutant of the simulated lock. A mutant is
 * caught when at least one automatic case fails against it; the verdict names those cases.
 */
import { MUTANT_NAMES, MUTANTS, type MutantName } from '../lock/mutants.js';
import type { ConformanceCase } from './cases.js';
import { runConformance, type RunOptions, type RunReport } from './runner.js';
import { startSimTarget } from './target.js';

export interface MutantVerdict {
  mutant: MutantName;
  description: string;
  section: string;
  caught: boolean;
  /** Ids of the cases that failed against this mutant. */
  failedCases: string[];
  wallMs: number;
}

/** Run `cases` against each mutant in `mutants` (default: every rule mutant), one fresh lock each. */
export async function runMutants(
  cases: readonly ConformanceCase[],
  o: RunOptions & { mutants?: readonly MutantName[]; onMutant?: (v: MutantVerdict, report: RunReport) => void } = {},
): Promise<MutantVerdict[]> {
  const names = o.mutants ?? MUTANT_NAMES.filter((m) => MUTANTS[m].kind === 'rule');
  const verdicts: MutantVerdict[] = [];
  for (const mutant of names) {
    const target = await startSimTarget({ mutant });
    let report: RunReport;
    try {
      report = await runConformance(target, cases, o);
    } finally {
      await target.close();
    }
    const failedCases = report.results.filter((r) => r.status === 'fail').map((r) => r.id);
    const v: MutantVerdict = { mutant, description: MUTANTS[mutant].description, section: MUTANTS[mutant].section, caught: failedCases.length > 0, failedCases, wallMs: report.wallMs };
    verdicts.push(v);
    o.onMutant?.(v, report);
  }
  return verdicts;
}
