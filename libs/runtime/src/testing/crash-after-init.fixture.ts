// Child process for backend.test.ts: initialises wasm, then dies of an uncaught error.
import { initBackend } from '../backend.js';

await initBackend({ backend: 'wasm' });
throw new Error('deliberate crash after initBackend');
