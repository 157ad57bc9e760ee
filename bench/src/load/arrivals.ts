/**
 * Poisson arrivals: exponential gaps with mean 1/rate, from a seeded PRNG so
 * a run can be repeated exactly.
 */

/** mulberry32: a small, fast 32-bit PRNG; good enough for load schedules, not for secrets. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Arrival offsets in ms within [0, durationMs), for `ratePerS` requests per second on average. */
export function poissonArrivals(ratePerS: number, durationMs: number, random: () => number): number[] {
  const out: number[] = [];
  let t = 0;
  const meanGapMs = 1000 / ratePerS;
  for (;;) {
    // 1 - u lies in (0, 1], so the log is finite.
    t += -Math.log(1 - random()) * meanGapMs;
    if (t >= durationMs) return out;
    out.push(t);
  }
}

/** `count` token ids drawn from printable ASCII (32..126): valid in byte-level and BPE vocabularies alike. */
export function randomPromptTokens(count: number, random: () => number): number[] {
  return Array.from({ length: count }, () => 32 + Math.floor(random() * 95));
}
