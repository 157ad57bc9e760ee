import { describe, expect, it } from "vitest";
import { paretoSvg } from "./chart.js";
import { resolveModel } from "./inputs.js";
import { parseFleets } from "./run.js";
import { sweepPlans } from "./sweep.js";
import { sweepMarkdown } from "./tables.js";

describe("sweepPlans", () => {
  const points = sweepPlans({
    model: resolveModel("llama-3.1-405b", "fp8"),
    fleets: parseFleets("16xh100,16xh200", "h100=2,h200=3"),
    gpusPerNode: 8,
    dtype: "fp8",
    inputTokens: 1000,
    outputTokens: 1000,
    maxConcurrencyPerReplica: 256,
  });

  it("only proposes splits whose weights fit and that use every GPU", () => {
    expect(points.length).toBeGreaterThan(10);
    for (const p of points) expect(p.tp * p.pp * p.replicas).toBe(16);
    // 405 GB of FP8 weights cannot sit on 4 H100s (320 GB) but can on 4 H200s (564 GB).
    expect(points.some((p) => p.gpu === "h100-sxm-80g" && p.tp * p.pp === 4)).toBe(false);
    expect(points.some((p) => p.gpu === "h200-141g" && p.tp * p.pp === 4)).toBe(true);
  });

  it("marks a frontier no other point of the same fleet dominates", () => {
    for (const gpu of ["h100-sxm-80g", "h200-141g"]) {
      const mine = points.filter((p) => p.gpu === gpu);
      const frontier = mine.filter((p) => p.pareto);
      expect(frontier.length).toBeGreaterThan(1);
      for (const f of frontier) {
        const dominated = mine.some(
          (q) => q.tokensPerSPerGpu > f.tokensPerSPerGpu && q.tokensPerSPerUser > f.tokensPerSPerUser,
        );
        expect(dominated).toBe(false);
      }
    }
  });

  it("prices output tokens from the GPU-hour price", () => {
    const p = points.find((q) => q.gpu === "h100-sxm-80g");
    expect(p?.usdPerMillionTokens).toBeCloseTo((16 * 2 * 1e6) / ((p?.outputTokensPerS ?? 1) * 3600), 6);
  });

  it("draws every frontier point into the SVG", () => {
    const svg = paretoSvg(points, "405B");
    expect(svg.startsWith("<svg")).toBe(true);
    const frontier = points.filter((p) => p.pareto).length;
    expect(svg.match(/r="4.5"/g)?.length).toBe(frontier);
  });
});

describe("sweepPlans for a mixture of experts", () => {
  const points = sweepPlans({
    model: resolveModel("deepseek-v3", "fp8"),
    fleets: parseFleets("8xh200", undefined),
    gpusPerNode: 8,
    dtype: "fp8",
    inputTokens: 1000,
    outputTokens: 1000,
    maxConcurrencyPerReplica: 64,
  });

  it("adds expert-parallel groups of one stage that use every GPU, and shows their ep", () => {
    const ep = points.filter((p) => p.ep > 1);
    expect(ep.length).toBeGreaterThan(0);
    for (const p of ep) {
      expect(p.pp).toBe(1);
      expect(p.ep % p.tp).toBe(0);
      expect(p.ep * p.replicas).toBe(8);
    }
    for (const p of points.filter((q) => q.ep === 1)) expect(p.tp * p.pp * p.replicas).toBe(8);
    expect(sweepMarkdown(points).split("\n")[0]).toMatch(/^\| gpu \| gpus \| tp \| pp \| ep \| replicas \|/);
  });
});
