/**
 * The stepper's behaviour suite (testing/step-behaviour-suite.ts) on wasm with the host
 * optimiser, or on MMIM_TEST_BACKEND when set (cpu).
 */
import type { BackendChoice } from '@mmim/runtime';
import { stepBehaviourSuite } from './testing/step-behaviour-suite.js';

stepBehaviourSuite((process.env.MMIM_TEST_BACKEND as BackendChoice | undefined) ?? 'wasm');
