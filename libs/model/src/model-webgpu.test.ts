/**
 * The stepper's behaviour suite on the webgpu backend (WGSL kernels, device optimiser): on CI,
 * Dawn's OpenGL ES route on Mesa's llvmpipe.
 */
import { stepBehaviourSuite } from './testing/step-behaviour-suite.js';

stepBehaviourSuite('webgpu');
