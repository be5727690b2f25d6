/**
 * How long-running commands talk: on a terminal, a progress bar per training stage (step/s, ETA,
 * running loss) and a line per epoch; with --json or when stdout is not a terminal, one JSON
 * object per line for scripts.
 */
import cliProgress from 'cli-progress';
import type { EpochRecord, TrainerEvent } from '@mmim/trainer';

export interface Reporter {
  event(e: TrainerEvent & { seed?: number }): void;
  info(text: string, data?: Record<string, unknown>): void;
  result(data: Record<string, unknown>, human: string): void;
  close(): void;
}

export function createReporter(opts: { json?: boolean }): Reporter {
  return opts.json || !process.stdout.isTTY ? new JsonReporter() : new TerminalReporter();
}

class JsonReporter implements Reporter {
  event(e: TrainerEvent & { seed?: number }): void {
    write({ event: e.type, ...flatten(e) });
  }
  info(text: string, data: Record<string, unknown> = {}): void {
    write({ event: 'info', message: text, ...data });
  }
  result(data: Record<string, unknown>): void {
    write({ event: 'result', ...data });
  }
  close(): void {}
}

function write(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function flatten(e: TrainerEvent & { seed?: number }): Record<string, unknown> {
  const { type: _type, ...rest } = e;
  return rest;
}

class TerminalReporter implements Reporter {
  private bar: cliProgress.SingleBar | null = null;
  private barKey = '';
  private lossSum = 0;
  private lossN = 0;

  event(e: TrainerEvent & { seed?: number }): void {
    if (e.type === 'step') {
      const key = `${e.epoch}:${e.report.stage}`;
      if (key !== this.barKey) {
        this.bar?.stop();
        this.barKey = key;
        this.lossSum = 0;
        this.lossN = 0;
        this.bar = new cliProgress.SingleBar(
          {
            format: `epoch {epoch} stage {stage} |{bar}| {value}/{total} | {rate} step/s | ETA {eta_formatted} | loss {loss}`,
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(e.of, 0, { epoch: e.epoch, stage: e.report.stage, rate: '-', loss: '-' });
      }
      if (Number.isFinite(e.report.loss)) {
        this.lossSum += e.report.loss;
        this.lossN++;
      }
      this.bar?.update(e.index + 1, {
        rate: (1000 / e.ms).toFixed(2),
        loss: this.lossN ? (this.lossSum / this.lossN).toFixed(4) : '-',
      });
      return;
    }
    this.bar?.stop();
    this.bar = null;
    this.barKey = '';
    if (e.type === 'epoch') process.stdout.write(`${formatEpoch(e.record, e.seed)}\n`);
    else if (e.type === 'stopped')
      process.stdout.write(`stopped after epoch ${e.epoch} (${e.reason})\n`);
  }

  info(text: string): void {
    this.bar?.stop();
    process.stdout.write(`${text}\n`);
  }

  result(_data: Record<string, unknown>, human: string): void {
    this.bar?.stop();
    process.stdout.write(`${human}\n`);
  }

  close(): void {
    this.bar?.stop();
  }
}

export function formatEpoch(r: EpochRecord, seed?: number): string {
  const flags = [
    r.selected ? 'selected' : '',
    r.nonFiniteSteps ? `${r.nonFiniteSteps} non-finite steps skipped` : '',
    r.entropySkipped ? `H dropped ${r.entropySkipped}x` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return (
    `${seed === undefined ? '' : `seed ${seed} | `}epoch ${r.epoch} | ${r.seconds.toFixed(1)} s | ` +
    `valid MAE ${r.valid.mae.toFixed(4)} Acc-2 ${(100 * r.valid.acc2_non0).toFixed(2)} | ` +
    `test MAE ${r.test.mae.toFixed(4)} Corr ${r.test.corr.toFixed(4)} Acc-2 ${(100 * r.test.acc2_non0).toFixed(2)}` +
    (flags ? ` | ${flags}` : '')
  );
}
