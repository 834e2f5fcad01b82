/** Lock firmware simulator: firmware state machine, flash, hardware, control-point session. */
export * from './profiles.js';
export * from './flash.js';
export * from './storage.js';
export * from './event-log.js';
export * from './hardware.js';
export * from './firmware.js';
export * from './device.js';
export * from './session.js';
export * from './gatt-service.js';
export * from './lock-dir.js';
export * from './runtime.js';
export * from './mutants.js';
export * from './mcu.js';
export * from './tickets.js';
export * from './advertising.js';
