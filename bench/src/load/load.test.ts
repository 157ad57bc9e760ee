import { describe, expect, it } from "vitest";
import { poissonArrivals, randomPromptTokens, seededRandom } from "./arrivals.js";
import { percentile, summariseTarget } from "./stats.js";
import type { RequestSample } from "./stream-client.js";

describe("poissonArrivals", () => {
  it("is repeatable for a seed and averages the requested rate", () => {
    const a = poissonArrivals(20, 200_000, seededRandom(7));
    const b = poissonArrivals(20, 200_000, seededRandom(7));
    expect(a).toEqual(b);
    // 4000 expected arrivals; Poisson sd ≈ 63, so ±5% is over 3 sd.
    expect(a.length).toBeGreaterThan(3800);
    expect(a.length).toBeLessThan(4200);
    expect(a.every((t, i) => t < 200_000 && (i === 0 || t >= (a[i - 1] ?? 0)))).toBe(true);
    // Exponential gaps: coefficient of variation ≈ 1.
    const gaps = a.slice(1).map((t, i) => t - (a[i] ?? 0));
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((x, g) => x + (g - mean) ** 2, 0) / gaps.length);
    expect(sd / mean).toBeGreaterThan(0.9);
    expect(sd / mean).toBeLessThan(1.1);
  });

  it("draws prompts of exactly the asked length from printable ASCII", () => {
    const p = randomPromptTokens(50, seededRandom(1));
    expect(p).toHaveLength(50);
    expect(p.every((t) => t >= 32 && t <= 126)).toBe(true);
  });
});

describe("stats", () => {
  it("takes nearest-rank percentiles", () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([], 50)).toBeNaN();
  });

  it("counts goodput only for requests within both SLOs", () => {
    const sample = (ttftMs: number, tpotMs: number, error?: string): RequestSample => ({
      target: "t",
      scheduledMs: 0,
      startedMs: 0,
      status: error ? 500 : 200,
      error,
      ttftMs,
      itlMs: [tpotMs],
      tpotMs,
      totalMs: ttftMs + tpotMs,
      outputTokens: 2,
      inputTokens: 1,
      gatewayMs: undefined,
    });
    const s = summariseTarget(
      "t",
      [sample(10, 5), sample(30, 5), sample(10, 50), sample(5, 1, "HTTP 500")],
      2,
      {
        ttftMs: 20,
        tpotMs: 10,
      },
    );
    expect(s.succeeded).toBe(3);
    expect(s.goodputPerS).toBe(0.5);
    expect(s.sloAttainment).toBe(0.25);
    expect(s.outputTokensPerS).toBe(3);
  });
});
