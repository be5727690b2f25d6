/** Test helpers: record builders with valid defaults, and the store in memory. */
export { fixtureEpoch, fixtureSweep, fixtureTrial } from './fixtures.js';
/**
 * The store in memory, for unit tests of what sits on the store (the same contract suite as
 * ExperimentStore: store-contract.ts).
 */
export { MemoryExperimentStore } from './memory-store.js';
