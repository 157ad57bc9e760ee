import { describe, expect, it } from "vitest";
import { DoesNotFitError, InputError } from "../errors.js";
import { predictPerformance } from "./predict.js";
import type { PerfGpu, PerfLayout, PerfModelShape } from "./types.js";

// Llama 3.1 70B shape (https://huggingface.co/meta-llama/Llama-3.1-70B/blob/main/config.json).
const LLAMA_70B: PerfModelShape = {
  numLayers: 80,
  hiddenSize: 8192,
  numHeads: 64,
  numKvHeads: 8,
  headDim: 128,
  parameterCount: 70.6e9,
};

// Round figures of a Hopper-class GPU; these tests compare plans, not GPUs.
const GPU: PerfGpu = {
  memoryBytes: 80e9,
  memoryBandwidthBytesPerS: 3.35e12,
  bf16DenseTflops: 989,
  fp8DenseTflops: 1979,
  intraNodeLinkBytesPerS: 450e9,
  interNodeLinkBytesPerS: 50e9,
};

const TP4: PerfLayout = { tp: 4, pp: 1, replicas: 1, gpusPerNode: 8, weightDtype: "fp8" };

describe("predictPerformance", () => {
  it("trades per-user speed for throughput as concurrency grows", () => {
    const one = predictPerformance(LLAMA_70B, GPU, TP4, {
      inputTokens: 1000,
      outputTokens: 500,
      concurrency: 1,
    });
    const many = predictPerformance(LLAMA_70B, GPU, TP4, {
      inputTokens: 1000,
      outputTokens: 500,
      concurrency: 64,
    });
    expect(many.outputTokensPerS).toBeGreaterThan(10 * one.outputTokensPerS);
    expect(many.tpotMs).toBeGreaterThan(one.tpotMs);
    expect(many.ttftMs).toBeGreaterThan(one.ttftMs);
  });

  it("is memory-bound at batch 1 and caps the offline batch by the KV cache", () => {
    const single = predictPerformance(LLAMA_70B, GPU, TP4, {
      inputTokens: 128,
      outputTokens: 128,
      concurrency: 1,
    });
    expect(single.bottleneck).toBe("memory-bandwidth");
    const offline = predictPerformance(LLAMA_70B, GPU, TP4, { inputTokens: 8000, outputTokens: 8000 });
    expect(offline.batchLimitedByKv).toBe(true);
    expect(offline.batchPerReplica * 16_000).toBeLessThanOrEqual(offline.kvCapacityTokensPerReplica);
  });

  it("scales throughput with replicas and keeps per-GPU throughput", () => {
    const w = { inputTokens: 500, outputTokens: 500 };
    const a = predictPerformance(LLAMA_70B, GPU, TP4, w);
    const b = predictPerformance(LLAMA_70B, GPU, { ...TP4, replicas: 3 }, w);
    expect(b.outputTokensPerS).toBeCloseTo(3 * a.outputTokensPerS, 6);
    expect(b.outputTokensPerSPerGpu).toBeCloseTo(a.outputTokensPerSPerGpu, 6);
  });

  it("shows a pipeline bubble when fewer sequences than stages are in flight", () => {
    const pp4: PerfLayout = { tp: 2, pp: 4, replicas: 1, gpusPerNode: 8, weightDtype: "fp8" };
    const p = predictPerformance(LLAMA_70B, GPU, pp4, {
      inputTokens: 100,
      outputTokens: 100,
      concurrency: 2,
    });
    expect(p.pipelineBubbleFraction).toBeCloseTo(0.5, 9);
    const full = predictPerformance(LLAMA_70B, GPU, pp4, {
      inputTokens: 100,
      outputTokens: 100,
      concurrency: 8,
    });
    expect(full.pipelineBubbleFraction).toBe(0);
  });

  it("pays for pipeline hand-offs across nodes", () => {
    const w = { inputTokens: 100, outputTokens: 100, concurrency: 32 };
    const inNode = predictPerformance(
      LLAMA_70B,
      GPU,
      { tp: 2, pp: 4, replicas: 1, gpusPerNode: 8, weightDtype: "fp8" },
      w,
    );
    const across = predictPerformance(
      LLAMA_70B,
      GPU,
      { tp: 2, pp: 4, replicas: 1, gpusPerNode: 2, weightDtype: "fp8" },
      w,
    );
    expect(across.decodeStage.pipelineHopS).toBeGreaterThan(inNode.decodeStage.pipelineHopS);
    expect(across.tpotMs).toBeGreaterThan(inNode.tpotMs);
  });

  it("refuses plans whose weights do not fit and names bad input", () => {
    expect(() =>
      predictPerformance(
        LLAMA_70B,
        GPU,
        { ...TP4, tp: 1, weightDtype: "bf16" },
        { inputTokens: 1, outputTokens: 1 },
      ),
    ).toThrow(DoesNotFitError);
    expect(() => predictPerformance(LLAMA_70B, GPU, TP4, { inputTokens: 0, outputTokens: 1 })).toThrow(
      InputError,
    );
  });
});
