/**
 * Runs fuzz inputs through a target: `assertNoCrash` for the test suite (fixed seed, bounded
 * runs, fast-check shrinks a failure to its smallest mutation list) and `fuzzFor` for the long
 * script (runs for a time, keeps going after crashes and collects them by signature). Inputs
 * run in a Sandbox child by default, so a crash that kills the process is caught too.
 */
import fc from 'fast-check';
import { crashSignature, DEFAULT_BUDGET, type Budget, type FuzzTarget } from './check.js';
import { fuzzInputs, type FuzzInput } from './mutate.js';
import { loadCrashes, loadSeeds, type Seed } from './corpus.js';
import { Sandbox, type Runner } from './sandbox.js';

export interface CrashRecord {
  reason: string;
  input: FuzzInput;
  stack: string;
}

export interface CampaignStats {
  target: string;
  executions: number;
  values: number;
  refused: number;
  /** Crashes whose signature is a known one (an input in test/fuzz/crashes/<target>/). */
  knownCrashes: number;
  /** New crash signatures, each with its first input. */
  crashes: Map<string, CrashRecord>;
  /** Signatures of the recorded crash inputs that still crash (excused); checked on demand. */
  known: ReadonlySet<string>;
  seconds: number;
  maxMs: number;
  maxGrowth: number;
}

function emptyStats(target: string): CampaignStats {
  return {
    target,
    executions: 0,
    values: 0,
    refused: 0,
    knownCrashes: 0,
    crashes: new Map(),
    known: new Set(),
    seconds: 0,
    maxMs: 0,
    maxGrowth: 0,
  };
}

/**
 * Signatures of the target's recorded crash inputs that still crash (fixed ones drop out).
 * Each runs twice in a fresh child: some crashes need a process that already parsed once.
 */
export async function knownCrashSignatures(
  target: FuzzTarget,
  budget: Budget = DEFAULT_BUDGET,
): Promise<Set<string>> {
  const known = new Set<string>();
  for (const c of loadCrashes(target.name)) {
    const sandbox = new Sandbox();
    try {
      for (let i = 0; i < 2; i++) {
        const j = await sandbox.run(target, c.bytes, budget);
        if (j.kind === 'crash') {
          known.add(crashSignature(target.name, j.reason ?? ''));
          break;
        }
      }
    } finally {
      sandbox.close();
    }
  }
  return known;
}

/** Known-crash signatures, computed the first time a crash needs excusing (it costs a child). */
class KnownCrashes {
  #set: Set<string> | null = null;
  constructor(
    private readonly target: FuzzTarget,
    private readonly budget: Budget,
  ) {}
  async has(sig: string): Promise<boolean> {
    this.#set ??= await knownCrashSignatures(this.target, this.budget);
    return this.#set.has(sig);
  }
  get computed(): ReadonlySet<string> {
    return this.#set ?? new Set();
  }
}

async function judge(
  run: Runner,
  target: FuzzTarget,
  input: FuzzInput,
  stats: CampaignStats,
  known: KnownCrashes,
  budget: Budget,
): Promise<string | null> {
  const j = await run(target, input.bytes, budget);
  stats.executions += 1;
  stats.maxMs = Math.max(stats.maxMs, j.ms);
  stats.maxGrowth = Math.max(stats.maxGrowth, j.growth);
  if (j.kind === 'value') stats.values += 1;
  else if (j.kind === 'refused') stats.refused += 1;
  else {
    const reason = j.reason ?? 'crash';
    const sig = crashSignature(target.name, reason);
    if (await known.has(sig)) {
      stats.knownCrashes += 1;
      return null;
    }
    if (!stats.crashes.has(sig)) stats.crashes.set(sig, { reason, input, stack: j.stack ?? '' });
    return reason;
  }
  return null;
}

export interface AssertOptions {
  seed: number;
  runs: number;
  budget?: Budget;
  seeds?: readonly Seed[];
  /** Defaults to a Sandbox of its own, closed at the end. */
  runner?: Runner;
}

/**
 * The test-suite run: every seed unchanged, then `runs` fuzz inputs from a fixed seed. Throws
 * (with fast-check's shrunk counterexample and its replay seed) on a crash that is not known.
 */
export async function assertNoCrash(
  target: FuzzTarget,
  options: AssertOptions,
): Promise<CampaignStats> {
  const budget = options.budget ?? DEFAULT_BUDGET;
  const seeds = options.seeds ?? loadSeeds(target.corpus ?? target.name);
  const known = new KnownCrashes(target, budget);
  const own = options.runner ? null : new Sandbox();
  const run = options.runner ?? (own as Sandbox).run;
  const stats = emptyStats(target.name);
  const t0 = performance.now();
  try {
    for (const s of seeds) {
      const reason = await judge(
        run,
        target,
        { bytes: s.bytes, origin: s.name, mutations: [] },
        stats,
        known,
        budget,
      );
      if (reason !== null)
        throw new Error(`${target.name}: seed ${s.name} crashes the parser: ${reason}`);
    }
    await fc.assert(
      fc.asyncProperty(fuzzInputs(seeds, { text: target.text }), async (input) => {
        const reason = await judge(run, target, input, stats, known, budget);
        if (reason !== null)
          throw new Error(
            `${target.name}: ${reason} (from ${input.origin}, ${input.bytes.length} bytes)`,
          );
      }),
      { seed: options.seed, numRuns: options.runs, endOnFailure: true },
    );
  } finally {
    own?.close();
  }
  stats.seconds = (performance.now() - t0) / 1000;
  stats.known = known.computed;
  return stats;
}

/** The long run: fuzz for `seconds` in a sandbox, never stopping at a crash. */
export async function fuzzFor(
  target: FuzzTarget,
  seconds: number,
  seed: number,
  budget: Budget = DEFAULT_BUDGET,
): Promise<CampaignStats & { restarts: number }> {
  const seeds = loadSeeds(target.corpus ?? target.name);
  const known = new KnownCrashes(target, budget);
  const sandbox = new Sandbox();
  const stats = emptyStats(target.name);
  const arb = fuzzInputs(seeds, { text: target.text });
  // Start the child and import the target before the clock starts (not counted).
  await sandbox.run(target, (seeds[0] as Seed).bytes, budget);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  try {
    for (let round = 0; performance.now() < deadline; round++) {
      for (const input of fc.sample(arb, { seed: seed + round, numRuns: 100 })) {
        await judge(sandbox.run, target, input, stats, known, budget);
        if (performance.now() >= deadline) break;
      }
    }
  } finally {
    sandbox.close();
  }
  stats.seconds = (performance.now() - t0) / 1000;
  stats.known = known.computed;
  return { ...stats, restarts: sandbox.starts - 1 };
}
