/**
 * The generative model of synthetic MOSI/MOSEI (docs/synthetic-data.md). Each clip has a latent
 * sentiment z in [-3, 3]; its label is the mean of a few annotators' rounded noisy readings of z;
 * its words carry z through AFINN valences (with negation and intensifiers), its acoustic and
 * visual sequences carry weaker, independently noised readings of z inside an "emotional burst",
 * under speaker-specific offsets and autocorrelated nuisance.
 *
 * Every random draw comes from a stream keyed by (seed, split, sample or video, purpose), so a
 * sample's content does not depend on the order or the set of samples generated (rows can be
 * produced one at a time while a file is written, or only for some samples in a test).
 */
import { SeededRandom, hashString, hashWords } from '@mmim/model';
import type { SplitName } from '../types.js';
import { INTENSIFIERS, MAX_VALENCE, NEGATORS, lexicon } from './lexicon.js';
import type { SyntheticProfile } from './profiles.js';

/** Knobs shared by both profiles (see the doc for why these values). */
export const MODEL = {
  /** Share of clips whose words carry no sentiment: only tone and face tell (complementarity). */
  neutralTextShare: 0.15,
  /** Std (valence units) of each sentiment word around 1.5 z. */
  wordNoise: 0.8,
  negationShare: 0.08,
  intensifierShare: 0.2,
  /** Std of the clip-level noise on the acoustic / visual readings of z (not averaged away over time). */
  acousticDelivery: 0.6,
  visualDelivery: 0.8,
  /** Share of visual frames where "the face was lost": an all-zero row inside the valid length. */
  faceLostShare: 0.02,
  /** Sentiment phrases per clip: 1 + Poisson(words x this). */
  sentimentSlotsPerWord: 0.25,
} as const;

const SPLIT_CODE: Record<SplitName, number> = { train: 1, valid: 2, test: 3 };
const STREAM = {
  video: hashString('video'),
  sample: hashString('sample'),
  acoustic: hashString('acoustic'),
  visual: hashString('visual'),
} as const;

export interface SampleSpec {
  id: string;
  text: string;
  /** The latent sentiment the modalities are generated from (not in the dataset file). */
  latent: number;
  /** Mean of the annotators' integer scores. */
  label: number;
  /** Whether the words carry sentiment at all. */
  textInformative: boolean;
  acousticLength: number;
  visualLength: number;
  /** The clip's emotional burst, as fractions of its length. */
  burstStart: number;
  burstEnd: number;
  /** Clip-level readings of z the acoustic / visual streams carry. */
  acousticReading: number;
  visualReading: number;
  video: number;
}

export interface SplitSpec {
  name: SplitName;
  samples: SampleSpec[];
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** An 11-character YouTube-like video id, unique per (seed, split, video) in practice. */
function videoId(rng: SeededRandom): string {
  let s = '';
  for (let i = 0; i < 11; i++) s += ID_ALPHABET[rng.nextUint32() & 63];
  return s;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  const x = items[Math.floor(rng.uniform() * items.length)];
  if (x === undefined) throw new Error('pick from an empty list');
  return x;
}

function poisson(rng: SeededRandom, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng.uniform();
  while (p > limit) {
    k++;
    p *= rng.uniform();
  }
  return k;
}

interface VideoSpec {
  id: string;
  /** The speaker's mood shifts every clip's sentiment a little. */
  mood: number;
}

function videoSpec(seed: number, split: SplitName, video: number): VideoSpec {
  const rng = new SeededRandom(hashWords(seed, SPLIT_CODE[split], video, STREAM.video));
  return { id: videoId(rng), mood: 0.4 * rng.normal() };
}

function latentSentiment(rng: SeededRandom, p: SyntheticProfile, mood: number): number {
  let m: number;
  if (rng.uniform() < p.neutralShare) m = 0.3 * rng.normal();
  else {
    const sign = rng.uniform() < p.positiveShare ? 1 : -1;
    m = sign * (0.4 + 1.1 * Math.abs(rng.normal()));
  }
  return clamp(m + mood, -3, 3);
}

/** Mean of integer annotator scores, each round(z + noise) clipped to [-3, 3]. */
function annotate(rng: SeededRandom, p: SyntheticProfile, z: number): number {
  let sum = 0;
  for (let k = 0; k < p.annotators; k++) {
    sum += clamp(Math.round(z + p.annotatorNoise * rng.normal()), -3, 3);
  }
  return sum / p.annotators;
}

/** One sentiment-bearing phrase whose effective valence is near `target` (valence units). */
function sentimentPhrase(rng: SeededRandom, target: number): string[] {
  const { byValence } = lexicon();
  const word = (v: number): string => pick(rng, byValence[v + MAX_VALENCE] ?? []);
  const u = rng.uniform();
  // "not w" reads as -0.5 w: only mild targets can be said that way.
  const negated = Math.round(-2 * target);
  if (u < MODEL.negationShare && negated !== 0 && Math.abs(negated) <= MAX_VALENCE) {
    return [pick(rng, NEGATORS), word(negated)];
  }
  const intensified = Math.round(target / 1.5);
  if (u < MODEL.negationShare + MODEL.intensifierShare && Math.abs(intensified) >= 1) {
    return [pick(rng, INTENSIFIERS), word(clamp(intensified, -MAX_VALENCE, MAX_VALENCE))];
  }
  const plain = clamp(Math.round(target), -MAX_VALENCE, MAX_VALENCE);
  return plain === 0 ? [] : [word(plain)];
}

function utterance(
  rng: SeededRandom,
  p: SyntheticProfile,
  z: number,
  informative: boolean,
): string {
  const { fillers } = lexicon();
  const n = clamp(Math.round(Math.exp(Math.log(p.medianWords) + 0.55 * rng.normal())), 1, 60);
  const words: string[][] = Array.from({ length: n }, () => [pick(rng, fillers)]);
  if (informative) {
    const k = Math.min(n, 1 + poisson(rng, n * MODEL.sentimentSlotsPerWord));
    // k distinct slots by a partial Fisher-Yates over the positions.
    const slots = Array.from({ length: n }, (_, i) => i);
    for (let j = 0; j < k; j++) {
      const r = j + Math.floor(rng.uniform() * (n - j));
      const s = slots[r] ?? j;
      slots[r] = slots[j] ?? j;
      slots[j] = s;
      const phrase = sentimentPhrase(rng, 1.5 * z + MODEL.wordNoise * rng.normal());
      if (phrase.length > 0) words[s] = phrase;
    }
  }
  return words.flat().join(' ');
}

/** The clip-level plan of a split: everything but the feature sequences. */
export function planSplit(
  p: SyntheticProfile,
  split: SplitName,
  size: number,
  seed: number,
): SplitSpec {
  const samples: SampleSpec[] = [];
  let video: VideoSpec | null = null;
  for (let i = 0; i < size; i++) {
    const v = Math.floor(i / p.clipsPerVideo);
    if (i % p.clipsPerVideo === 0 || video === null) video = videoSpec(seed, split, v);
    const rng = new SeededRandom(hashWords(seed, SPLIT_CODE[split], i, STREAM.sample));
    const latent = latentSentiment(rng, p, video.mood);
    const label = annotate(rng, p, latent);
    const textInformative = rng.uniform() >= MODEL.neutralTextShare;
    const text = utterance(rng, p, latent, textInformative);
    const nWords = text.split(' ').length;
    // Speech at ~2.6 words/s (varying per speaker and clip) plus a short pause.
    const seconds = nWords / (2.6 * Math.exp(0.2 * rng.normal())) + 0.3 + 0.5 * rng.uniform();
    const width = 0.3 + 0.4 * rng.uniform();
    const burstStart = (1 - width) * rng.uniform();
    samples.push({
      id: `${video.id}$_$${(i % p.clipsPerVideo) + 1}`,
      text,
      latent,
      label,
      textInformative,
      acousticLength: clamp(Math.round(seconds * p.acousticRate), 1, p.acousticSteps),
      visualLength: clamp(Math.round(seconds * p.visualRate), 1, p.visualSteps),
      burstStart,
      burstEnd: burstStart + width,
      acousticReading: latent + MODEL.acousticDelivery * rng.normal(),
      visualReading: latent + MODEL.visualDelivery * rng.normal(),
      video: v,
    });
  }
  return { name: split, samples };
}

/** Per-speaker channel offsets (identity: a nuisance the model must see past). */
function speakerOffsets(
  seed: number,
  split: SplitName,
  video: number,
  stream: number,
  d: number,
): Float64Array {
  const rng = new SeededRandom(hashWords(seed, SPLIT_CODE[split], video, stream, 7));
  return Float64Array.from({ length: d }, () => rng.normal());
}

/** 1 inside the clip's burst, 0.15 outside: the signal is where the emotion is expressed. */
function burst(s: SampleSpec, t: number, length: number): number {
  const x = (t + 0.5) / length;
  return x >= s.burstStart && x < s.burstEnd ? 1 : 0.15;
}

/**
 * Fills `out` (T_a x d_a, zeroed by the caller or fresh) with sample i's acoustic sequence:
 * channel 0 "energy" follows |z| (intensity, not polarity), channel 1 "prosody" follows z weakly,
 * the others are speaker offsets, slow drift and AR(1) noise.
 */
export function acousticRow(
  p: SyntheticProfile,
  split: SplitName,
  seed: number,
  s: SampleSpec,
  index: number,
  out: Float32Array,
): void {
  const d = p.acousticDim;
  const rng = new SeededRandom(hashWords(seed, SPLIT_CODE[split], index, STREAM.acoustic));
  const offsets = speakerOffsets(seed, split, s.video, STREAM.acoustic, d);
  const ar = new Float64Array(d);
  const drift = new Float64Array(d);
  const a = s.acousticReading;
  for (let t = 0; t < s.acousticLength; t++) {
    const b = burst(s, t, s.acousticLength);
    for (let c = 0; c < d; c++) {
      ar[c] = 0.8 * (ar[c] ?? 0) + 0.6 * rng.normal();
      drift[c] = (drift[c] ?? 0) + 0.05 * rng.normal();
      let x = (offsets[c] ?? 0) + 0.6 * (ar[c] ?? 0);
      if (c === 0) x += 0.7 * Math.abs(a) * b;
      else if (c === 1) x += 0.35 * a * b + 0.3 * (ar[c] ?? 0);
      else x += drift[c] ?? 0;
      out[t * d + c] = x;
    }
  }
}

/**
 * Sample i's visual sequence: channel 0 "smile" follows max(z, 0), channel 1 "frown"
 * max(-z, 0), channel 2 "head motion" |z| weakly; the rest is identity and pose nuisance; a few
 * frames are all zero (face lost), as face trackers leave them.
 */
export function visualRow(
  p: SyntheticProfile,
  split: SplitName,
  seed: number,
  s: SampleSpec,
  index: number,
  out: Float32Array,
): void {
  const d = p.visualDim;
  const rng = new SeededRandom(hashWords(seed, SPLIT_CODE[split], index, STREAM.visual));
  const offsets = speakerOffsets(seed, split, s.video, STREAM.visual, d);
  const ar = new Float64Array(d);
  const drift = new Float64Array(d);
  const v = s.visualReading;
  for (let t = 0; t < s.visualLength; t++) {
    const b = burst(s, t, s.visualLength);
    const lost = rng.uniform() < MODEL.faceLostShare;
    for (let c = 0; c < d; c++) {
      ar[c] = 0.8 * (ar[c] ?? 0) + 0.6 * rng.normal();
      drift[c] = (drift[c] ?? 0) + 0.05 * rng.normal();
      let x = (offsets[c] ?? 0) + 0.5 * (ar[c] ?? 0);
      if (c === 0) x += 0.5 * Math.max(v, 0) * b;
      else if (c === 1) x += 0.5 * Math.max(-v, 0) * b;
      else if (c === 2) x += 0.3 * Math.abs(v) * b + 0.3 * (ar[c] ?? 0);
      else x += drift[c] ?? 0;
      out[t * d + c] = lost ? 0 : x;
    }
  }
}
