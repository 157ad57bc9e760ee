import { describe, expect, it } from "vitest";
import { findModel } from "../model/catalog.js";
import { type ModelSpec, routedExpertParams, type WeightDtype, weightBytes } from "../model/model-spec.js";
import { parsePool } from "./cluster.js";
import { whyItDoesNotFit } from "./does-not-fit.js";
import { evaluateLayout } from "./evaluate.js";
import { kvBytesPerTokenPerLayerPerGpu } from "./memory.js";
import { type PlanRequest, planContext, planDeployment } from "./search.js";
import { vllmParallelArgs } from "./vllm-args.js";

function request(model: string | ModelSpec, dtype: WeightDtype | undefined, pools: string[]): PlanRequest {
  return {
    model: typeof model === "string" ? findModel(model) : model,
    ...(dtype ? { dtype } : {}),
    cluster: { pools: pools.map((p) => parsePool(p)) },
  };
}

const GB = 1e9;

describe("planning mixture-of-experts models (issue 18)", () => {
  it("DeepSeek-V3 in bf16 on 1×8 H100 is refused, naming 1.34 TB and the smallest change that fits", () => {
    const req = request("deepseek-v3", "bf16", ["1x8xh100-sxm-80g"]);
    const { plan, ranked } = planDeployment(req);
    expect(plan.fits).toBe(false);
    expect(plan.weightsBytes / 1e12).toBeCloseTo(1.34, 2);
    const closest = ranked[0];
    if (!closest) throw new Error("no candidate");
    const message = whyItDoesNotFit(req, closest);
    expect(message).toContain("deepseek-v3 weights in bf16 take 1.34 TB");
    expect(message).toMatch(/smallest change that fits: --dtype int4 \(.*\), or --nodes 3 \(/);
    // The suggested changes really fit.
    expect(planDeployment({ ...req, dtype: "int4" }).plan.fits).toBe(true);
    expect(planDeployment(request("deepseek-v3", "bf16", ["3x8xh100-sxm-80g"])).plan.fits).toBe(true);
    expect(planDeployment(request("deepseek-v3", "bf16", ["2x8xh100-sxm-80g"])).plan.fits).toBe(false);
  });

  it("DeepSeek-V3 in fp8 on 1×8 H200 (the published single-node deployment) fits", () => {
    const { plan } = planDeployment(request("deepseek-v3", "fp8", ["1x8xh200-141g"]));
    expect(plan.fits).toBe(true);
    expect(plan.gpusUsed).toBe(8);
    expect(plan.weightsBytes / GB).toBeCloseTo(672.9, 0);
  });

  it("Qwen3-235B-A22B in bf16: 470 GB of weights, does not fit 4×H100 and fits 8", () => {
    const model = findModel("qwen3-235b-a22b");
    expect(weightBytes(model, "bf16").totalBytes / GB).toBeCloseTo(470.2, 0);
    expect(planDeployment(request(model, "bf16", ["1x4xh100-sxm-80g"])).plan.fits).toBe(false);
    const { plan } = planDeployment(request(model, "bf16", ["1x8xh100-sxm-80g"]));
    expect(plan.fits).toBe(true);
    const perGpu = plan.stages.map((s) => s.memoryPerGpu.weightsBytes);
    for (const w of perGpu) expect(w / (470.2e9 / 8)).toBeGreaterThan(0.99);
  });

  it("expert parallelism: experts over ep GPUs, attention and dense layers on each of ep/tp ranks, KV per rank", () => {
    const ctx = planContext(request("deepseek-v3", "fp8", ["1x8xh200-141g"]));
    const model = ctx.model;
    const experts = ctx.weights.expertBytes.reduce((a, b) => a + b, 0);
    const rest = ctx.weights.totalBytes - experts;
    expect(experts / GB).toBeCloseTo((58 * routedExpertParams(model, 3)) / GB, 6);
    for (const [tp, ep] of [
      [1, 8],
      [2, 8],
      [4, 8],
    ] as const) {
      const c = evaluateLayout(ctx, tp, 1, ep);
      if (!c) throw new Error("no layout");
      const [stage] = c.stages;
      if (!stage) throw new Error("no stage");
      expect(stage.gpus).toBe(8);
      expect(c.gpusUsed).toBe(8);
      expect(stage.memoryPerGpu.expertWeightsBytes / (experts / 8)).toBeCloseTo(1, 6);
      expect(stage.memoryPerGpu.weightsBytes / (experts / 8 + rest / tp)).toBeCloseTo(1, 6);
      // Each of the ep/tp attention ranks caches its own sequences.
      expect(c.kvCacheTokensPerReplica).toBe(stage.kvCacheTokens * (ep / tp));
      expect(c.maxConcurrentSequences).toBe((ep / tp) * Math.floor(stage.kvCacheTokens / 8192));
    }
  });

  it("MLA keeps the whole 576-element latent on every TP rank; GQA splits its KV heads", () => {
    const v3 = findModel("deepseek-v3");
    expect(kvBytesPerTokenPerLayerPerGpu(v3, 1)).toBe(576 * 2);
    expect(kvBytesPerTokenPerLayerPerGpu(v3, 8)).toBe(576 * 2);
    const mixtral = findModel("mixtral-8x7b");
    expect(kvBytesPerTokenPerLayerPerGpu(mixtral, 8)).toBe(2 * 128 * 2);
    expect(kvBytesPerTokenPerLayerPerGpu(mixtral, 1)).toBe(8 * 2 * 128 * 2);
  });

  it("leading dense layers are smaller: DeepSeek's first three hold a fraction of an MoE layer", () => {
    const w = weightBytes(findModel("deepseek-v3"), "fp8");
    expect(w.expertBytes.slice(0, 3)).toEqual([0, 0, 0]);
    expect((w.layerBytes[0] ?? 0) / (w.layerBytes[3] ?? 1)).toBeLessThan(0.1);
  });

  it("plans no expert parallelism when the engine has none, nor for dense models", () => {
    const req = request("deepseek-v3", "fp8", ["1x8xh200-141g"]);
    expect(planDeployment(req).ranked.some((c) => c.ep > 1)).toBe(true);
    expect(planDeployment({ ...req, expertParallel: false }).ranked.every((c) => c.ep === 1)).toBe(true);
    expect(
      planDeployment(request("llama-3.1-70b", "bf16", ["1x8xh100-sxm-80g"])).ranked.every((c) => c.ep === 1),
    ).toBe(true);
  });

  it("plans a GGUF mixture of experts as pipeline stages of one GPU, without expert parallelism", () => {
    const base = findModel("mixtral-8x7b");
    const w = weightBytes(base, "int4");
    const gguf: ModelSpec = {
      ...base,
      weights: {
        kind: "gguf",
        embeddingBytes: w.embeddingBytes,
        headBytes: w.headBytes,
        layerBytes: w.layerBytes,
        expertBytes: w.expertBytes,
        otherBytes: 0,
        mainType: "Q4_K",
      },
    };
    const { plan, ranked } = planDeployment(request(gguf, undefined, ["4x1xl40s-48g"]));
    expect(plan.fits).toBe(true);
    expect(ranked.every((c) => c.tp === 1 && c.ep === 1)).toBe(true);
    expect(plan.stages.reduce((n, s) => n + s.memoryPerGpu.expertWeightsBytes, 0)).toBeGreaterThan(0);
  });

  it("gives vLLM's flags for a layout: EP_SIZE = TP × DP", () => {
    expect(vllmParallelArgs({ tp: 8, pp: 2 })).toEqual([
      "--tensor-parallel-size",
      "8",
      "--pipeline-parallel-size",
      "2",
    ]);
    expect(vllmParallelArgs({ tp: 2, pp: 1, ep: 8 })).toEqual([
      "--tensor-parallel-size",
      "2",
      "--pipeline-parallel-size",
      "1",
      "--data-parallel-size",
      "4",
      "--enable-expert-parallel",
    ]);
    expect(() => vllmParallelArgs({ tp: 4, pp: 1, ep: 6 })).toThrow("ep: 6 is not a multiple of tp=4");
  });
});
