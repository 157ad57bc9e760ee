/**
 * A small deterministic PRNG (SplitMix32-style mixing of a Weyl sequence) so a
 * generated model is byte-identical for a given seed on every machine.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 0x1_0000_0000;
  }

  /** Uniform in [-limit, limit). */
  symmetric(limit: number): number {
    return (this.next() * 2 - 1) * limit;
  }
}
