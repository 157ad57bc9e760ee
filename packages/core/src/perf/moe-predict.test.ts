import { describe, expect, it } from "vitest";
import { findGpu } from "../hardware/gpu-catalog.js";
import { findModel } from "../model/catalog.js";
import { weightBytes } from "../model/model-spec.js";
import { DEFAULT_EFFICIENCY } from "./efficiency.js";
import { perfModelShape } from "./model-shape.js";
import { predictPerformance } from "./predict.js";
import {
  decodeWeightBytesPerGpu,
  expectedDistinctExperts,
  expertParallelCommS,
  weightBytesPerGpu,
} from "./roofline.js";
import type { PerfLayout } from "./types.js";

const v3 = findModel("deepseek-v3");
const V3 = perfModelShape(v3, weightBytes(v3, "fp8"));
const H200 = findGpu("h200");
const TP8: PerfLayout = { tp: 8, pp: 1, replicas: 1, gpusPerNode: 8, weightDtype: "fp8" };
const EP8: PerfLayout = { ...TP8, tp: 1, ep: 8 };

describe("expected distinct experts", () => {
  it("is k for one token, tends to E for many, and E·(1 − (1 − k/E)^B) between", () => {
    expect(expectedDistinctExperts(256, 8, 1)).toBeCloseTo(8, 10);
    expect(expectedDistinctExperts(256, 8, 10_000)).toBeCloseTo(256, 6);
    expect(expectedDistinctExperts(256, 8, 64)).toBeCloseTo(256 * (1 - (1 - 8 / 256) ** 64), 10);
    expect(expectedDistinctExperts(256, 8, 64)).toBeCloseTo(222.5, 0);
    let last = 0;
    for (const b of [1, 2, 4, 16, 64, 256]) {
      const d = expectedDistinctExperts(256, 8, b);
      expect(d).toBeGreaterThan(last);
      expect(d).toBeLessThanOrEqual(Math.min(256, 8 * b));
      last = d;
    }
  });
});

describe("mixture-of-experts decode", () => {
  it("reads the experts its batch touches: about k of 256 at batch 1, nearly all at 256 sequences", () => {
    const all = weightBytesPerGpu(V3, TP8);
    const experts = (V3.moe?.routedExpertBytes ?? 0) / 8;
    const one = decodeWeightBytesPerGpu(V3, TP8, 1);
    expect(one).toBeCloseTo(all - experts + (experts * 8) / 256, 0);
    const many = decodeWeightBytesPerGpu(V3, TP8, 256);
    expect(many / all).toBeGreaterThan(0.99);
    expect(many).toBeLessThanOrEqual(all);
  });

  it("reads over 5× fewer bytes in a batch-1 decode step of DeepSeek-V3 than streaming all 671B parameters", () => {
    const moe = predictPerformance(V3, H200, TP8, { inputTokens: 1000, outputTokens: 1000, concurrency: 1 });
    const dense = predictPerformance({ ...V3, moe: undefined, activeParameterCount: undefined }, H200, TP8, {
      inputTokens: 1000,
      outputTokens: 1000,
      concurrency: 1,
    });
    expect(dense.decodeStage.memoryS / moe.decodeStage.memoryS).toBeGreaterThan(5);
    expect(moe.tpotMs).toBeLessThan(dense.tpotMs);
  });

  it("adds a dispatch and a combine all-to-all per MoE layer under expert parallelism, on NVLink inside a node", () => {
    const eff = DEFAULT_EFFICIENCY;
    expect(expertParallelCommS(V3, H200, TP8, 58, 64, eff)).toBe(0);
    const intra = expertParallelCommS(V3, H200, EP8, 58, 64, eff);
    const bytes = (64 / 8) * 8 * 7168 * 2 * (7 / 8);
    const oneWay = eff.allReduceLatencyS + bytes / (H200.intraNodeLinkBytesPerS * eff.linkBandwidth);
    expect(intra).toBeCloseTo(2 * 58 * oneWay, 12);
    const p = predictPerformance(V3, H200, EP8, { inputTokens: 1000, outputTokens: 1000, concurrency: 64 });
    expect(p.decodeStage.expertParallelCommS).toBeGreaterThan(0);
    expect(p.decodeStage.tensorParallelCommS).toBe(0);
  });

  it("holds over 4× the KV tokens with attention on 8 data-parallel ranks (MLA's latent is whole on every TP rank)", () => {
    const tp8 = predictPerformance(V3, H200, TP8, { inputTokens: 1000, outputTokens: 1000 });
    const ep8 = predictPerformance(V3, H200, EP8, { inputTokens: 1000, outputTokens: 1000 });
    expect(ep8.kvCapacityTokensPerReplica).toBeGreaterThan(4 * tp8.kvCapacityTokensPerReplica);
  });

  it("counts prefill FLOPs over the active parameters", () => {
    const p = predictPerformance(V3, H200, TP8, { inputTokens: 4096, outputTokens: 1, concurrency: 1 });
    const activeFlops = 2 * (V3.activeParameterCount ?? 0) * 4096;
    const peak = 8 * (H200.fp8DenseTflops ?? 0) * 1e12;
    expect(p.ttftMs / 1000).toBeGreaterThan(activeFlops / peak);
    expect(p.ttftMs / 1000).toBeLessThan((2 * V3.parameterCount * 4096) / peak);
  });

  it("runs the routed experts' FLOPs at the MoE share of the GEMM efficiency, and adds each MoE layer's latency", () => {
    // DeepSeek-V3: 58 MoE layers, 256 experts of which 8 per token.
    const experts = V3.moe?.routedExpertParameterCount ?? 0;
    expect(experts).toBeGreaterThan(0.95 * 654e9);
    const w = { inputTokens: 1000, outputTokens: 1000, concurrency: 256 };
    const base = predictPerformance(V3, H200, TP8, w);
    const slow = predictPerformance(V3, H200, TP8, w, { ...DEFAULT_EFFICIENCY, moeComputeEfficiency: 0.5 });
    // Only the experts' FLOPs slow down: at 0.5 they take twice their time, the rest unchanged.
    const rows = base.batchPerReplica;
    const expertFlopsPerGpu = (rows * 2 * experts * (8 / 256)) / 8;
    const expertS =
      expertFlopsPerGpu / ((H200.fp8DenseTflops ?? 0) * 1e12 * DEFAULT_EFFICIENCY.decodeCompute);
    expect(slow.decodeStage.computeS - base.decodeStage.computeS).toBeCloseTo(expertS, 9);
    const late = predictPerformance(V3, H200, TP8, w, { ...DEFAULT_EFFICIENCY, moeLayerLatencyS: 100e-6 });
    expect(late.decodeStage.layerLatencyS - base.decodeStage.layerLatencyS).toBeCloseTo(58 * 100e-6, 12);
  });
});
