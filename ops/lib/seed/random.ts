/**
 * Deterministic randomness for the seed generator. Every value is a pure function of
 * (seed, keys...), never of call order: a reading at time t comes out the same whichever window,
 * batch or process generates it, which is what makes re-seeding idempotent and lets two runs with
 * different end times agree wherever they overlap. Fixed arities keep the hot path allocation-free.
 */

/** mulberry32: a 32-bit PRNG, plenty for synthetic meter data (never for secrets). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    return mulberryOutput(a);
  };
}

/** mulberry32's output function for one state word, in [0, 1). */
function mulberryOutput(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** murmur3's finaliser: spreads every input bit over the whole word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mix(h: number, part: number): number {
  const hi = Math.floor(part / 4294967296) >>> 0;
  return fmix32(Math.imul(h ^ (part >>> 0), 0x01000193) + hi);
}

/** Combines up to four integers (any sign, up to 2^53) into one 32-bit hash. */
export function hash32(a: number, b?: number, c?: number, d?: number): number {
  let h = mix(0x9e3779b9, a);
  if (b !== undefined) h = mix(h, b);
  if (c !== undefined) h = mix(h ^ 0x2545f491, c);
  if (d !== undefined) h = mix(h ^ 0x6c8e9cf5, d);
  return h;
}

/** FNV-1a of a string, so names (device ids, stream names) can be hash keys. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A uniform number in [0, 1) for these keys: the first output of mulberry32 seeded with their hash. */
export function uniform(a: number, b?: number, c?: number, d?: number): number {
  return mulberryOutput((hash32(a, b, c, d) + 0x6d2b79f5) >>> 0);
}

/** A standard normal number for these keys (Box-Muller over two mulberry32 outputs). */
export function gaussian(a: number, b?: number, c?: number): number {
  const h = hash32(a, b, c);
  const u = 1 - mulberryOutput((h + 0x6d2b79f5) >>> 0);
  const v = mulberryOutput((h + 0xda5bf3ea) >>> 0);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Smooth noise in [-1, 1]: random values on a grid of `periodS` seconds, blended with a
 * smoothstep in between. Weather, grid voltage drift and load wander use it.
 */
export function smoothNoise(key: number, epochS: number, periodS: number): number {
  const x = epochS / periodS;
  const i = Math.floor(x);
  const f = x - i;
  const a = uniform(key, i) * 2 - 1;
  const b = uniform(key, i + 1) * 2 - 1;
  return a + (b - a) * f * f * (3 - 2 * f);
}
