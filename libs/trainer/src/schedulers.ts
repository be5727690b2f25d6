/**
 * The reference's epoch-level controls: torch's ReduceLROnPlateau (mode 'min', threshold 1e-4
 * relative, no cooldown, min_lr 0, eps 1e-8) stepped on the valid loss, and the solver's
 * patience counter for early stopping. Both are plain serialisable state.
 */

export interface PlateauState {
  best: number;
  badEpochs: number;
}

export class ReduceLROnPlateau {
  static readonly threshold = 1e-4;
  static readonly eps = 1e-8;
  state: PlateauState = { best: Number.POSITIVE_INFINITY, badEpochs: 0 };

  constructor(
    readonly patience: number,
    readonly factor = 0.5,
  ) {
    if (!(factor > 0 && factor < 1))
      throw new Error(`ReduceLROnPlateau: factor must be in (0, 1), got ${factor}`);
    if (!(patience >= 0))
      throw new Error(`ReduceLROnPlateau: patience must be >= 0, got ${patience}`);
  }

  /** Feed one epoch's metric; returns the factor to multiply every learning rate by (1 or factor). */
  step(metric: number): number {
    if (metric < this.state.best * (1 - ReduceLROnPlateau.threshold)) {
      this.state.best = metric;
      this.state.badEpochs = 0;
    } else {
      this.state.badEpochs += 1;
    }
    if (this.state.badEpochs > this.patience) {
      this.state.badEpochs = 0;
      return this.factor;
    }
    return 1;
  }

  /** torch skips a reduction smaller than eps. */
  static reduced(lr: number, factor: number): number {
    const next = lr * factor;
    return lr - next > ReduceLROnPlateau.eps ? next : lr;
  }
}

export interface EarlyStopState {
  bestValid: number;
  /** Epochs left before stopping (reset to `patience` on improvement). */
  left: number;
}

/** The solver's rule: stop after `patience` epochs without a lower valid loss. */
export class EarlyStopping {
  state: EarlyStopState;

  constructor(readonly patience: number) {
    this.state = { bestValid: 1e8, left: patience };
  }

  /** Returns whether the valid loss improved; `shouldStop` tells whether to end training. */
  update(validLoss: number): boolean {
    if (validLoss < this.state.bestValid) {
      this.state.bestValid = validLoss;
      this.state.left = this.patience;
      return true;
    }
    this.state.left -= 1;
    return false;
  }

  get shouldStop(): boolean {
    return this.state.left <= 0;
  }
}
