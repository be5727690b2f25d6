/**
 * Deterministic random numbers that do not depend on the backend, the process or the rank.
 *
 * Initialisation draws from a seeded stream (`SeededRandom`). Dropout masks are *counter-based*:
 * each element's keep/drop decision is a hash of (seed, step, global sample index, site, element),
 * so K workers that each hold a slice of the global batch draw exactly the masks one worker
 * would draw for the whole batch.
 */

/** 32-bit avalanche mix (the finaliser of MurmurHash3). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Stable 32-bit hash of a string (FNV-1a then mixed), used to name dropout sites. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** Combine several 32-bit words into one well-mixed key. */
export function hashWords(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) h = mix32((h ^ mix32(w >>> 0)) + 0x9e3779b9);
  return h;
}

/** A small, fast, seeded PRNG (sfc32) with normal draws via Box-Muller. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.a = hashWords(seed, 1);
    this.b = hashWords(seed, 2);
    this.c = hashWords(seed, 3);
    this.d = hashWords(seed, 4);
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  normal(): number {
    if (this.spareNormal !== null) {
      const s = this.spareNormal;
      this.spareNormal = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Snapshot for checkpoints: four words plus the cached normal. */
  state(): number[] {
    return [this.a, this.b, this.c, this.d, this.spareNormal ?? Number.NaN];
  }

  static fromState(s: readonly number[]): SeededRandom {
    const r = new SeededRandom(0);
    r.a = s[0] ?? 0;
    r.b = s[1] ?? 0;
    r.c = s[2] ?? 0;
    r.d = s[3] ?? 0;
    const spare = s[4];
    r.spareNormal = spare === undefined || Number.isNaN(spare) ? null : spare;
    return r;
  }
}

/** Where a dropout mask sits: the run's seed, the optimiser step and the dropout site. */
export interface DropoutKey {
  seed: number;
  step: number;
  site: string;
}

/**
 * Inverted-dropout scale factors (0 or 1/(1-rate)) for `rows` samples of `width` elements each.
 * Row r belongs to global sample `sampleIndex[r]`; its mask does not depend on which rank or
 * batch slice computes it.
 */
export function dropoutScales(
  key: DropoutKey,
  rate: number,
  sampleIndex: ArrayLike<number>,
  width: number,
): Float32Array {
  const rows = sampleIndex.length;
  const out = new Float32Array(rows * width);
  const { threshold, scale } = dropoutThreshold(rate);
  const rowKeys = dropoutRowKeys(key, sampleIndex);
  for (let r = 0; r < rows; r++) {
    const rowKey = rowKeys[r] ?? 0;
    const base = r * width;
    for (let e = 0; e < width; e++) {
      out[base + e] = mix32(rowKey ^ Math.imul(e + 1, 0x9e3779b1)) >= threshold ? scale : 0;
    }
  }
  return out;
}

/**
 * The per-row keys of a mask: element e of row r is kept when
 * mix32(rowKey[r] ^ imul(e + 1, 0x9e3779b1)) >= threshold (all 32-bit unsigned). What a device
 * kernel needs to draw the same mask (kernels/dropout-mask.ts).
 */
export function dropoutRowKeys(key: DropoutKey, sampleIndex: ArrayLike<number>): Uint32Array {
  const siteKey = hashWords(key.seed, key.step, hashString(key.site));
  return Uint32Array.from({ length: sampleIndex.length }, (_, r) =>
    hashWords(siteKey, sampleIndex[r] ?? 0),
  );
}

/** The keep threshold (on a 32-bit hash) and the kept elements' scale for a dropout rate. */
export function dropoutThreshold(rate: number): { threshold: number; scale: number } {
  return { threshold: Math.floor(rate * 4294967296), scale: 1 / (1 - rate) };
}
