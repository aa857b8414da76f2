/**
 * A stream of numbers in [0, 1) fixed by `seed` and `stream`: mulberry32 (a 32-bit generator small
 * enough to write out, good enough for test schedules), started from the FNV-1a hash of the stream's
 * name mixed with the seed. Named streams let each method of a wrapped adapter draw its own fates,
 * so the n-th call of one method meets the same fate however many calls other methods made.
 */
export function seededRandom(seed: number, stream: string): () => number {
  // The seed's high bits count too: seeds above 2^32 still differ.
  let hash = (0x811c9dc5 ^ (seed >>> 0) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  for (let i = 0; i < stream.length; i++) {
    hash ^= stream.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  let state = hash >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
