import { describe, expect, it } from "vitest";
import { goodputPoint } from "./goodput.js";
import { predictPerformance } from "./predict.js";
import type { PerfGpu, PerfLayout, PerfModelShape } from "./types.js";

const LLAMA_70B: PerfModelShape = {
  numLayers: 80,
  hiddenSize: 8192,
  numHeads: 64,
  numKvHeads: 8,
  headDim: 128,
  parameterCount: 70.6e9,
};
const GPU: PerfGpu = {
  memoryBytes: 80e9,
  memoryBandwidthBytesPerS: 3.35e12,
  bf16DenseTflops: 989,
  fp8DenseTflops: 1979,
  intraNodeLinkBytesPerS: 450e9,
  interNodeLinkBytesPerS: 50e9,
};
const LAYOUT: PerfLayout = { tp: 4, pp: 1, replicas: 2, gpusPerNode: 8, weightDtype: "fp8" };
const TOKENS = { inputTokens: 1000, outputTokens: 500 };

describe("goodputPoint", () => {
  it("runs at the largest concurrency that meets both SLOs", () => {
    const slo = { ttftMs: 2000, tpotMs: 40 };
    const point = goodputPoint(LLAMA_70B, GPU, LAYOUT, TOKENS, slo);
    expect(point?.meetsSlo).toBe(true);
    const p = point?.prediction;
    expect(p?.tpotMs).toBeLessThanOrEqual(40);
    expect(p?.ttftMs).toBeLessThanOrEqual(2000);
    // One more request per replica breaks an SLO.
    const more = predictPerformance(LLAMA_70B, GPU, LAYOUT, {
      ...TOKENS,
      concurrency: (point?.concurrency ?? 0) + 2,
    });
    expect(more.tpotMs > 40 || more.ttftMs > 2000).toBe(true);
  });

  it("tightening the TPOT SLO lowers goodput", () => {
    const loose = goodputPoint(LLAMA_70B, GPU, LAYOUT, TOKENS, { ttftMs: 5000, tpotMs: 60 });
    const tight = goodputPoint(LLAMA_70B, GPU, LAYOUT, TOKENS, { ttftMs: 5000, tpotMs: 25 });
    expect(tight?.prediction.outputTokensPerSPerGpu).toBeLessThan(
      loose?.prediction.outputTokensPerSPerGpu ?? 0,
    );
  });

  it("says when not even one request per replica meets the SLOs", () => {
    const point = goodputPoint(LLAMA_70B, GPU, LAYOUT, TOKENS, { ttftMs: 1, tpotMs: 1 });
    expect(point?.meetsSlo).toBe(false);
    expect(point?.concurrency).toBe(2);
  });

  it("returns undefined when the weights do not fit", () => {
    const tp1: PerfLayout = { ...LAYOUT, tp: 1, weightDtype: "bf16" };
    expect(goodputPoint(LLAMA_70B, GPU, tp1, TOKENS, { ttftMs: 1e9, tpotMs: 1e9 })).toBeUndefined();
  });
});
