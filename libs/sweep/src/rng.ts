/**
 * Seeded randomness for samplers. Every draw derives from (sampler seed, config index, stream
 * name), never from hidden state or Math.random, so a coordinator that restarts and rebuilds a
 * sampler from the recorded trials gets exactly the same next config.
 */

/** A stream of uniform numbers in [0, 1). */
export interface Rng {
  next(): number;
}

/** mulberry32: a small 32-bit generator with a full 2^32 period; plenty for sampling. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** FNV-1a over the UTF-16 code units, then a murmur3 finaliser so close inputs spread out. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The generator for one named stream of one config: e.g. `rngFor(0, 7, 'lr_main')`. Separate
 * streams per parameter keep a parameter's draws unchanged when another parameter is added.
 */
export function rngFor(seed: number, index: number, stream = ''): Rng {
  return mulberry32(hash32(`${seed}:${index}:${stream}`));
}

/** A standard normal draw (Box-Muller; uses two uniforms, 1 - u keeps log away from 0). */
export function standardNormal(rng: Rng): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
