/**
 * The trainer config keys a sweep may set, as dotted paths (`text_encoder.freeze`). This copy
 * lets the sweep lib validate a sweep file without loading @mmim/trainer (which loads TF.js);
 * `trainer-keys.test.ts` fails when it drifts from `trainerConfigSchema`. Callers that already
 * have the schema pass it to `parseSweepSpec` instead, which also checks every value.
 */
export const TRAINER_CONFIG_KEYS: readonly string[] = [
  'dataset',
  'd_vh',
  'd_ah',
  'd_vout',
  'd_aout',
  'd_prjh',
  'cpc_layers',
  'add_va',
  'dropout_a',
  'dropout_v',
  'dropout_prj',
  'dropout',
  'entropy_jitter',
  'text_encoder.trainable_layers',
  'text_encoder.freeze',
  'text_encoder.micro_batch',
  'batch_size',
  'lr_main',
  'lr_bert',
  'lr_mmilb',
  'alpha',
  'beta',
  'weight_decay_main',
  'weight_decay_bert',
  'weight_decay_club',
  'clip',
  'update_batch',
  'contrast',
  'num_epochs',
  'when',
  'patience',
  'seed',
  'reference_selection',
  'zero_grad_to_none',
  'shuffle',
  'max_batches_per_stage',
];

/** `{a: 1, text_encoder: {freeze: true}}` -> ['a', 'text_encoder.freeze'] (plain objects only). */
export function flattenKeys(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? flattenKeys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );
}

/** `{'text_encoder.freeze': true, alpha: 0.1}` -> `{text_encoder: {freeze: true}, alpha: 0.1}`. */
export function expandDotted(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1] as string] = value;
  }
  return out;
}
