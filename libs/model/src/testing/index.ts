/**
 * @mmim/model/testing: hooks for tests of other projects (not for production code).
 *
 * `setBackendProfileOverride({ optimizer: 'device' })` runs the device optimiser (or the
 * composite LSTM / log det) on the current backend, e.g. on cpu, to test a GPU path without a GPU.
 */
export { setBackendProfileOverride } from '../kernels/registry.js';
