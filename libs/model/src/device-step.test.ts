/**
 * The paths GPU backends take, run on the wasm backend (the fastest here) so that every one of them is exercised
 * without a GPU: the device optimiser (webgpu, tfjs-node) and the composite LSTM and log det
 * (tfjs-node / tfjs-node-gpu, which cannot be installed here).
 */
import { stepBehaviourSuite } from './testing/step-behaviour-suite.js';
import { paritySuite } from './testing/parity-suite.js';

stepBehaviourSuite('wasm', { optimizer: 'device', lstm: 'composite', logdet: 'composite' });
paritySuite('wasm', { optimizer: 'device', lstm: 'composite', logdet: 'composite' });
