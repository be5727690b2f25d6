/** What the one-worker and the distributed `mmim train` share: --init weights, --save names. */
import { loadMmimWeights, type BertConfig, type ParamName } from '@mmim/model';

/** Weights to start from: a whole MMIM state dict (ours or PyTorch's), BERT weights under it. */
export async function loadInitWeights(
  file: string,
  bert?: Map<ParamName, Float32Array>,
  bertConfig?: BertConfig,
): Promise<Map<ParamName, Float32Array>> {
  // The BERT config (--bert, --bert-config) tells what a state dict without our metadata cannot
  // (the number of attention heads, for one).
  const loaded = await loadMmimWeights(file, bertConfig ?? {});
  return new Map([...(bert ?? []), ...loaded.state]);
}

/** The --save file of one seed: `w.safetensors` stays as is for one seed, else `w.seed-S.safetensors`. */
export function seedSavePath(save: string, seed: number, seedCount: number): string {
  return seedCount > 1 ? save.replace(/(\.safetensors)?$/, `.seed-${seed}.safetensors`) : save;
}
