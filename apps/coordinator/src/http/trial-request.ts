/**
 * POST /api/trials: the body checked with the schemas the worker applies to the trial it becomes,
 * not a copy of them. The spec parts (data, seed, bert, start) go through @mmim/trainer's
 * `trialSpecSchema` (what `parseTrialSpec` runs on AssignTrial), the trainer part through
 * `buildTrainerConfig` (what `prepareTrial` runs), each BERT override through its key's rule in
 * @mmim/model's `bertConfigSchema`. A request the worker would refuse is a 400 naming the field
 * (`body field trainer.num_epochs: ...`) instead of a queued trial that fails on every attempt.
 *
 * The trainer and model libs load TF.js: imported on first use, as the sweep controller does,
 * so that a coordinator that never gets a lone trial starts without them.
 */
import { z } from 'zod';
import type { LoneTrialRequest } from './control.js';
import { HttpError } from './errors.js';

/** The body's own fields; the spec parts come from the trial spec's schema. */
const requestFields = z
  .object({
    workers: z.number().int().min(1),
    name: z.string().min(1).max(200).optional(),
  })
  .strict();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A trial id the spec schema accepts; the real one is made when the trial is queued. */
const PLACEHOLDER_ID = 'api-request';

function issueText(prefix: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter((p) => p !== '').join('.');
      if (i.code === 'unrecognized_keys')
        return i.keys.map((k) => `body field ${path === '' ? k : `${path}.${k}`}: unknown key`);
      return `body field ${path === '' ? '(root)' : path}: ${i.message}`;
    })
    .flat()
    .join('; ');
}

/** The body of POST /api/trials, or an HttpError 400 naming every bad field. */
export async function parseLoneTrialRequest(body: unknown): Promise<LoneTrialRequest> {
  if (!isPlainObject(body)) throw new HttpError(400, 'body must be a JSON object');
  const { workers, name, ...specPart } = body;
  const [{ trialSpecSchema, trainerConfigSchema, buildTrainerConfig }, { bertConfigSchema }] =
    await Promise.all([import('@mmim/trainer'), import('@mmim/model')]);
  const problems: string[] = [];
  const fields = requestFields.safeParse({
    workers,
    ...(name === undefined ? {} : { name }),
  });
  if (!fields.success) problems.push(issueText('', fields.error.issues));
  // trialId and attempt are the coordinator's; everything else is the caller's, checked as the
  // worker will check it (unknown keys included).
  for (const key of ['trialId', 'attempt'])
    if (key in specPart) problems.push(`body field ${key}: unknown key (the coordinator sets it)`);
  const spec = trialSpecSchema.safeParse({ ...specPart, trialId: PLACEHOLDER_ID, attempt: 1 });
  if (!spec.success) {
    const own = spec.error.issues.filter((i) => i.path[0] !== 'trialId' && i.path[0] !== 'attempt');
    problems.push(issueText('', own));
  }
  // The trainer and BERT parts are checked even when another part is wrong: every problem at once.
  const { trainer = {}, seed, bert = {} } = specPart;
  if (isPlainObject(trainer)) {
    const { preset, ...overrides } = trainer;
    const seeded = Number.isSafeInteger(seed) && (seed as number) >= 0 ? { seed } : {};
    // The caller's keys first, by path; then the whole config as prepareTrial builds it (the
    // preset's name, and the preset's values merged under the caller's).
    const own = trainerConfigSchema.safeParse({ ...overrides, ...seeded });
    if (!own.success) problems.push(issueText('trainer', own.error.issues));
    else {
      try {
        if (preset !== undefined && typeof preset !== 'string')
          throw new Error(`preset must be a preset name, got ${JSON.stringify(preset)}`);
        buildTrainerConfig({ preset, overrides: { ...overrides, ...seeded } });
      } catch (err) {
        problems.push(`body field trainer: ${(err as Error).message.replace(/^config: /, '')}`);
      }
    }
  }
  if (isPlainObject(bert)) {
    const bertRules = bertConfigSchema.shape as Record<string, z.ZodType | undefined>;
    for (const [key, value] of Object.entries(bert)) {
      const rule = bertRules[key];
      if (rule === undefined) continue; // the worker drops keys BERT does not have
      const checked = rule.safeParse(value);
      if (!checked.success) problems.push(issueText(`bert.${key}`, checked.error.issues));
    }
  }
  if (problems.length > 0 || !spec.success || !fields.success)
    throw new HttpError(400, problems.filter((p) => p !== '').join('; '));
  const parsed = spec.data;
  return {
    data: parsed.data,
    trainer: parsed.trainer,
    seed: parsed.seed,
    workers: fields.data.workers,
    ...(fields.data.name === undefined ? {} : { name: fields.data.name }),
    ...(parsed.bert === undefined ? {} : { bert: parsed.bert }),
    ...(parsed.start === undefined ? {} : { start: parsed.start }),
  };
}
