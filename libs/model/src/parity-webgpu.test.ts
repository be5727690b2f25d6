/**
 * The parity suite on the webgpu backend: on CI, Dawn's OpenGL ES route on Mesa's llvmpipe (the
 * same WGSL kernels and device optimiser a GPU runs); on a GPU node, the GPU itself.
 */
import { paritySuite } from './testing/parity-suite.js';

paritySuite('webgpu');
