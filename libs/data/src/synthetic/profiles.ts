/**
 * The real datasets' shapes that synthetic data imitates (MMSA's unaligned_50.pkl), and the
 * knobs of the generative model per dataset. docs/synthetic-data.md explains each number.
 */
import type { SplitName } from '../types.js';

export type SyntheticLike = 'mosi' | 'mosei';

export interface SyntheticProfile {
  name: SyntheticLike;
  splitSizes: Record<SplitName, number>;
  acousticDim: number;
  acousticSteps: number;
  visualDim: number;
  visualSteps: number;
  textLength: number;
  /** Clips per video (speaker); videos never straddle splits, as in the real speaker-independent splits. */
  clipsPerVideo: number;
  /** Annotators averaged per label: MOSI 5 (labels are multiples of 0.2), MOSEI 3 (of 1/3). */
  annotators: number;
  /** Std of one annotator's score around the latent sentiment, before rounding to an integer. */
  annotatorNoise: number;
  /** Share of near-neutral clips (latent ~ N(0, 0.3)): the visible mass around 0. */
  neutralShare: number;
  /** Share of positive among the non-neutral clips (MOSEI leans positive). */
  positiveShare: number;
  /** Words per utterance: log-normal with this median. */
  medianWords: number;
  /** Feature steps per second of speech (words are spoken at ~2.6 per second). */
  acousticRate: number;
  visualRate: number;
}

export const PROFILES: Record<SyntheticLike, SyntheticProfile> = {
  mosi: {
    name: 'mosi',
    splitSizes: { train: 1284, valid: 229, test: 686 },
    acousticDim: 5,
    acousticSteps: 375,
    visualDim: 20,
    visualSteps: 500,
    textLength: 50,
    clipsPerVideo: 24,
    annotators: 5,
    annotatorNoise: 0.7,
    neutralShare: 0.12,
    positiveShare: 0.5,
    medianWords: 10,
    acousticRate: 20,
    visualRate: 30,
  },
  mosei: {
    name: 'mosei',
    splitSizes: { train: 16326, valid: 1871, test: 4659 },
    acousticDim: 74,
    acousticSteps: 500,
    visualDim: 35,
    visualSteps: 500,
    textLength: 50,
    clipsPerVideo: 7,
    annotators: 3,
    annotatorNoise: 0.7,
    neutralShare: 0.2,
    positiveShare: 0.68,
    medianWords: 18,
    acousticRate: 25,
    visualRate: 15,
  },
};

/** Split sizes times `scale`, at least 1 each. */
export function scaledSizes(p: SyntheticProfile, scale: number): Record<SplitName, number> {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`scale must be > 0, got ${scale}`);
  const s = (n: number): number => Math.max(1, Math.round(n * scale));
  return { train: s(p.splitSizes.train), valid: s(p.splitSizes.valid), test: s(p.splitSizes.test) };
}
