// @latchkit/simulator public API. Each area exports from its own folder.
export * from './radio/index.js';
export { SimulatorError, SimulatorErrorCodes, type SimulatorErrorCode } from './errors.js';
export * from './lock/index.js';
export * from './phone/index.js';
export * from './fleet/index.js';
export * from './conformance/index.js';
export { registerSimulatorCommands, runLockRepl, formatEvent, formatSummary, type SimulatorCliIo } from './cli/index.js';
