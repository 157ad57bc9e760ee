import { predictPerformance } from "@strata/core";
import { describe, expect, it } from "vitest";
import { resolveGpu, resolveModel } from "./inputs.js";

// NVIDIA measured Llama 3.1 405B on one HGX H200 (8 GPUs, NVSwitch) with TensorRT-LLM:
// pipeline parallelism over all 8 GPUs gave 1.5x the maximum throughput of tensor
// parallelism, and tensor parallelism 5.6x the speed of pipeline parallelism at minimum
// latency. Blog: https://developer.nvidia.com/blog/boosting-llama-3-1-405b-throughput-by-another-1-5x-on-nvidia-h200-tensor-core-gpus-and-nvlink-switch/
// (figures as reported in https://blockchain.news/news/llama-3-1-405b-throughput-boost-nvidia-h200-gpus-nvlink).
// The post gives ratios, not sequence lengths, so two workloads are checked and the
// bands are wide; they still fail if the model loses the pipeline bubble, the
// per-layer all-reduces or the per-stage weight streaming.
const model = resolveModel("llama-3.1-405b", "fp8");
const h200 = resolveGpu("h200");
const layout = (tp: number, pp: number) => ({
  tp,
  pp,
  replicas: 1,
  gpusPerNode: 8,
  weightDtype: "fp8" as const,
});

describe.each([
  { inputTokens: 2048, outputTokens: 128 },
  { inputTokens: 1000, outputTokens: 1000 },
])("tensor against pipeline parallelism on 8 H200s, $inputTokens in / $outputTokens out", (tokens) => {
  it("pipeline parallelism wins maximum throughput by about 1.5x", () => {
    const tp8 = predictPerformance(model, h200, layout(8, 1), tokens);
    const pp8 = predictPerformance(model, h200, layout(1, 8), tokens);
    const ratio = pp8.outputTokensPerS / tp8.outputTokensPerS;
    expect(ratio).toBeGreaterThan(1.1);
    expect(ratio).toBeLessThan(2);
  });

  it("tensor parallelism wins minimum latency by about 5.6x", () => {
    const tp8 = predictPerformance(model, h200, layout(8, 1), { ...tokens, concurrency: 1 });
    const pp8 = predictPerformance(model, h200, layout(1, 8), { ...tokens, concurrency: 1 });
    const ratio = tp8.outputTokensPerSPerUser / pp8.outputTokensPerSPerUser;
    expect(ratio).toBeGreaterThan(4);
    expect(ratio).toBeLessThan(8);
  });
});
