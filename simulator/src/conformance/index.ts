/**
 * The conformance runner: protocol conformance cases run against one lock over BLE GATT (a
 * simulated lock on the virtual radio, or a real one through `hci`), and the mutant firmwares
 * that prove the cases catch broken locks. CONFORMANCE.md beside the package says how to run it.
 */
export { CASES, CASE_IDS, findCases, type ConformanceCase } from './cases.js';
export { TestIssuer, RESIDENT_DOORCODE, RESIDENT_HOLDER } from './issuer.js';
export { runConformance, CaseContext, type CaseResult, type CaseStatus, type RunOptions, type RunReport } from './runner.js';
export { formatTable, progressLine, toJunit, answerTimes } from './report.js';
export { startSimTarget, openHciTarget, DEFAULT_SIM_LOCK_ID, type ConformanceTarget, type TargetHooks, type DoorOutcome, type SimTargetOptions, type HciTargetOptions } from './target.js';
export { runMutants, type MutantVerdict } from './mutation.js';
