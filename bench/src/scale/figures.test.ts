import { describe, expect, it } from "vitest";
import { histogramQuantile, medianRound, quantile } from "./figures.js";

describe("figures", () => {
  it("interpolates a histogram quantile inside its bucket", () => {
    const buckets = [
      { le: 0.01, count: 50 },
      { le: 0.1, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.01);
    expect(histogramQuantile(0.75, buckets)).toBeCloseTo(0.055);
  });

  it("takes the nearest-rank quantile of samples", () => {
    expect(quantile(0.5, [5, 1, 3, 2, 4])).toBe(3);
    expect(quantile(0.99, [1, 2, 3])).toBe(3);
  });

  it("picks the round with the median figure", () => {
    const rounds = [{ r: 2.1 }, { r: 1.7 }, { r: 1.9 }, { r: 2.4 }];
    expect(medianRound(rounds, (x) => x.r)).toEqual({ r: 1.9 });
    expect(medianRound([{ r: 3 }], (x) => x.r)).toEqual({ r: 3 });
    expect(() => medianRound([], (x: { r: number }) => x.r)).toThrow("no rounds");
  });
});
