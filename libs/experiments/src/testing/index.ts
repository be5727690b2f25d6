/**
 * @mmim/experiments/testing — for tests only: record fixtures, an in-memory ExperimentStoreApi
 * and the contract suite every store runs.
 *
 * ```ts
 * import { MemoryExperimentStore, fixtureTrial } from '@mmim/experiments/testing';
 * const store = new MemoryExperimentStore();
 * await store.putTrial(fixtureTrial({ id: 't1' }));
 * ```
 */
export { fixtureEpoch, fixtureSweep, fixtureTrial } from './fixtures.js';
export { MemoryExperimentStore } from './memory-store.js';
export { experimentStoreContract } from './store-contract.js';
