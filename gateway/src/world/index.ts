/** The running world of a property: simulated locks, radios and phones, its clock and event stream. */
export * from './world.js';
export * from './door-views.js';
export * from './actions.js';
export * from './clock.js';
export * from './events.js';
export * from './demo-property.js';
