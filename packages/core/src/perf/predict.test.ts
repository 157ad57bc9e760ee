import { describe, expect, it } from "vitest";
import { DoesNotFitError, InputError } from "../errors.js";
import { DEFAULT_EFFICIENCY, engineEfficiency } from "./efficiency.js";
import { kvCapacityTokensPerReplica, predictPerformance } from "./predict.js";
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

  it("sizes the KV cache as the engine does: a share of the device for vLLM, of what the weights leave for TensorRT-LLM", () => {
    // 70B in FP8 on one H100 as the runtime reports it (79.11 GiB): TensorRT-LLM ran it
    // (its performance overview), with 90% of the few GB the weights leave.
    const h100 = { ...GPU, reportedMemoryBytes: 79.11 * 2 ** 30 };
    const tp1: PerfLayout = { ...TP4, tp: 1 };
    const weights = LLAMA_70B.parameterCount; // one byte per parameter in FP8
    const trt = engineEfficiency("trtllm");
    const kvPerToken = 2 * 80 * 8 * 128; // K and V, FP8, all layers
    const free = 79.11 * 2 ** 30 - trt.runtimeReserveBytes - weights;
    expect(kvCapacityTokensPerReplica(LLAMA_70B, h100, tp1, trt)).toBe(Math.floor((0.9 * free) / kvPerToken));
    // vLLM's 90% of the device minus weights and its smaller reserve.
    const vllm = engineEfficiency("vllm");
    const budget = 0.9 * 79.11 * 2 ** 30 - vllm.runtimeReserveBytes - weights;
    expect(kvCapacityTokensPerReplica(LLAMA_70B, h100, tp1, vllm)).toBe(Math.floor(budget / kvPerToken));
    // The datasheet's decimal 80 GB with the default 3 GiB reserve leaves no room at all.
    expect(() => kvCapacityTokensPerReplica(LLAMA_70B, GPU, tp1, DEFAULT_EFFICIENCY)).toThrow(
      DoesNotFitError,
    );
  });

  it("adds each layer's fixed latency to every decode step, and an MoE layer's own on top", () => {
    const w = { inputTokens: 128, outputTokens: 128, concurrency: 1 };
    const base = predictPerformance(LLAMA_70B, GPU, TP4, w, { ...DEFAULT_EFFICIENCY, layerLatencyS: 0 });
    const slow = predictPerformance(LLAMA_70B, GPU, TP4, w, { ...DEFAULT_EFFICIENCY, layerLatencyS: 50e-6 });
    expect(slow.decodeStage.layerLatencyS).toBeCloseTo(80 * 50e-6, 12);
    expect(slow.tpotMs - base.tpotMs).toBeCloseTo(80 * 0.05, 3);
    // A dense model has no MoE layer: the MoE factors change nothing.
    const moeFactors = { ...DEFAULT_EFFICIENCY, moeComputeEfficiency: 0.2, moeLayerLatencyS: 300e-6 };
    expect(predictPerformance(LLAMA_70B, GPU, TP4, w, moeFactors).tpotMs).toBeCloseTo(
      predictPerformance(LLAMA_70B, GPU, TP4, w).tpotMs,
      9,
    );
  });
});
