/**
 * A local HuggingFace BERT folder: `config.json`, `vocab.txt`, `model.safetensors`. Weights of
 * BertModel (`embeddings.*`) or BertForPreTraining (`bert.embeddings.*`, `cls.*` heads ignored),
 * with old-style LayerNorm names (`gamma`/`beta`) accepted, map to MMIM's `text_enc.bertmodel.*`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensorsFile } from '@mmim/runtime';
import { bertConfigSchema, type BertConfig } from '../config.js';
import { BERT_PREFIX, type ParamName } from '../params.js';
import { floatTensors } from './weights.js';

export interface HfBert {
  config: BertConfig;
  /** Parameters under MMIM's names (`text_enc.bertmodel.*`). */
  state: Map<ParamName, Float32Array>;
  vocabPath: string;
  vocabSize: number;
}

/** Read a BERT config.json, keeping the fields MMIM uses; errors name the file and the field. */
export function readBertConfig(file: string): BertConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read BERT config: ${(err as Error).message}`);
  }
  const r = raw as Record<string, unknown>;
  if (r.hidden_act !== undefined && r.hidden_act !== 'gelu') {
    throw new Error(
      `${file}: hidden_act '${String(r.hidden_act)}' is not supported (BERT uses exact 'gelu')`,
    );
  }
  // HF configs carry many more keys (architectures, model_type ...); the schema keeps ours.
  const parsed = bertConfigSchema.safeParse(r);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${file}: invalid BERT config: ${problems}`);
  }
  return parsed.data;
}

/** Map a HF BERT weight name to MMIM's name; null for weights MMIM does not use. */
export function mmimNameForHf(name: string): string | null {
  let n = name.replace(/^bert\./, '');
  if (n.startsWith('cls.') || n.endsWith('position_ids')) return null;
  n = n
    .replace(/LayerNorm\.gamma$/, 'LayerNorm.weight')
    .replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  if (!/^(embeddings|encoder|pooler)\./.test(n)) return null;
  return `${BERT_PREFIX}${n}`;
}

export async function loadHfBert(dir: string): Promise<HfBert> {
  const configPath = path.join(dir, 'config.json');
  const vocabPath = path.join(dir, 'vocab.txt');
  const weightsPath = path.join(dir, 'model.safetensors');
  for (const [p, what] of [
    [configPath, 'config.json'],
    [vocabPath, 'vocab.txt'],
  ] as const) {
    if (!fs.existsSync(p))
      throw new Error(
        `${dir}: no ${what} (a HuggingFace BERT folder has config.json, vocab.txt, model.safetensors)`,
      );
  }
  if (!fs.existsSync(weightsPath)) {
    const bin = fs.existsSync(path.join(dir, 'pytorch_model.bin'));
    throw new Error(
      `${dir}: no model.safetensors` +
        (bin
          ? ' (pytorch_model.bin found: convert it with safetensors.torch.save_file, pickled weights are not read)'
          : ''),
    );
  }
  const config = readBertConfig(configPath);
  const vocabSize = fs
    .readFileSync(vocabPath, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0).length;
  if (vocabSize !== config.vocab_size) {
    throw new Error(
      `${dir}: vocab.txt has ${vocabSize} tokens but config.json says vocab_size ${config.vocab_size}`,
    );
  }
  const state = new Map<ParamName, Float32Array>();
  for (const [name, t] of floatTensors(await readSafetensorsFile(weightsPath), weightsPath)) {
    const mapped = mmimNameForHf(name);
    if (mapped !== null) state.set(mapped, t.data);
  }
  return { config, state, vocabPath, vocabSize };
}
