/** Fleets: many locks of a property in one process, from a property description. */
export * from './property.js';
export * from './fleet.js';
