/**
 * Reading and writing safetensors files (https://huggingface.co/docs/safetensors), the format
 * our checkpoints and the PyTorch reference's exported weights use. No usable npm package
 * exists, so this is a small strict implementation; see docs/runtime.md.
 */
export { int64ToInt32 } from './safetensors/convert.js';
export { readSafetensorsFile, writeSafetensorsFileAtomic } from './safetensors/files.js';
export { MAX_HEADER_BYTES, parseSafetensors } from './safetensors/parse.js';
export { serializeSafetensors, type SafetensorsInput } from './safetensors/serialize.js';
export {
  SafetensorsError,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsTensor,
} from './safetensors/types.js';
