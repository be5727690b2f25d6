/** Reading weights for --init. */
import { loadMmimWeights, type ParamName } from '@mmim/model';

/** Weights to start from: a whole MMIM state dict (ours or PyTorch's), BERT weights under it. */
export async function loadInitWeights(
  file: string,
  bert?: Map<ParamName, Float32Array>,
): Promise<Map<ParamName, Float32Array>> {
  const loaded = await loadMmimWeights(file);
  return new Map([...(bert ?? []), ...loaded.state]);
}
