/**
 * The parity suite (testing/parity-suite.ts) on wasm, or on MMIM_TEST_BACKEND when set (cpu).
 * parity-webgpu.test.ts runs it on the webgpu backend.
 */
import type { BackendChoice } from '@mmim/runtime';
import { paritySuite } from './testing/parity-suite.js';

paritySuite((process.env.MMIM_TEST_BACKEND as BackendChoice | undefined) ?? 'wasm');
