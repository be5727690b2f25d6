import { MemoryTrialQueue } from './memory-queue.js';
import { trialQueueContract } from './queue-contract.js';

trialQueueContract('MemoryTrialQueue', {
  open: async () => new MemoryTrialQueue(),
  // A restart: a new queue on the state the first one kept (Redis's part of the queue).
  reopen: async (queue) => {
    await queue.close();
    return new MemoryTrialQueue((queue as MemoryTrialQueue).state);
  },
});
