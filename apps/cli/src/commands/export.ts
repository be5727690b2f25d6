/** `mmim export --checkpoint F --out model.safetensors`: the weights alone, for PyTorch users. */
import { MmimModel, loadMmimWeights, saveMmimWeights } from '@mmim/model';
import { initBackend } from '@mmim/runtime';

export async function runExport(o: { checkpoint: string; out: string }): Promise<void> {
  await initBackend({ backend: 'cpu' });
  const w = await loadMmimWeights(o.checkpoint);
  const model = new MmimModel(w.config, w.state);
  await saveMmimWeights(o.out, model, { exported_from: o.checkpoint });
  model.dispose();
  process.stdout.write(
    `wrote ${o.out} (${model.specs.length} tensors, reference parameter names)\n`,
  );
}
