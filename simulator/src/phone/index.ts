/** Simulated resident phone and the central-side latchkit GATT client. */
export * from './client.js';
export * from './discover.js';
export * from './phone.js';
export * from './known.js';
