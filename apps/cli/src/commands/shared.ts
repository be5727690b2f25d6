/** Pieces several commands share: reading weights for --init / --checkpoint. */
import { loadMmimWeights, type BertConfig, type LoadedWeights, type ParamName } from '@mmim/model';

/** Weights to start from: a whole MMIM state dict (ours or PyTorch's), BERT weights under it. */
export async function loadInitWeights(
  file: string,
  bert?: Map<ParamName, Float32Array>,
): Promise<Map<ParamName, Float32Array>> {
  const loaded = await loadMmimWeights(file);
  const out = new Map(bert ?? []);
  for (const [k, v] of loaded.state) if (!k.startsWith('optimizer.')) out.set(k, v);
  return out;
}

/** A checkpoint's weights and config; a PyTorch file needs BERT's head count from a config. */
export async function loadCheckpointWeights(
  file: string,
  bertHints: Partial<BertConfig> = {},
): Promise<LoadedWeights> {
  const loaded = await loadMmimWeights(file, bertHints);
  for (const k of [...loaded.state.keys()]) if (k.startsWith('optimizer.')) loaded.state.delete(k);
  return loaded;
}
