// @latchkit/simulator public API. Each area exports from its own folder.
export * from './radio/index.js';
