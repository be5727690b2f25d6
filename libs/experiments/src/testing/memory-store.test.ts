import { MemoryExperimentStore } from './memory-store.js';
import { experimentStoreContract } from './store-contract.js';

experimentStoreContract('MemoryExperimentStore', async () => new MemoryExperimentStore());
