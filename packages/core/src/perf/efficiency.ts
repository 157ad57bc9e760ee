/**
 * The named efficiency factors of the performance model: how far real kernels, links
 * and schedulers fall short of the datasheet figures. Every prediction is the
 * datasheet roofline slowed down by these and nothing else; there is no per-model,
 * per-GPU or per-engine correction.
 *
 * How they were chosen: each is a value from the range published or commonly
 * measured for its effect (noted per factor), set before comparing with
 * bench/data/published.csv (`strata bench capacity --validate`) and not fitted to
 * it: a grid search over the ranges lowers that file's median error but predicts a
 * held-out source worse than these values (README, "Checked against published
 * results"). The two TTFT terms (requestOverheadS, prefillChunkTokens) were added
 * when the comparison showed TTFT too low under load, with values from engine
 * defaults. The property tests in limits.test.ts hold for any values in range.
 */
export interface EfficiencyFactors {
  /**
   * Share of peak HBM bandwidth a decode step achieves while streaming weights and KV
   * cache. Bandwidth tests reach 85–92% of peak on Hopper (Azure measured 7.35 of 8
   * TB/s on GB200, https://techcommunity.microsoft.com/blog/azurehighperformancecomputingblog/azure%E2%80%99s-nd-gb200-v6-delivers-record-performance-for-inference-workloads/4399253);
   * attention and GEMM kernels mixed in a step land lower.
   */
  readonly memoryBandwidth: number;
  /**
   * Model FLOPs utilisation of prefill (large GEMMs plus flash attention) against the
   * dense tensor-core peak. Hopper FP8/BF16 serving stacks report 40–60%.
   */
  readonly prefillCompute: number;
  /**
   * Utilisation of the tensor cores by decode GEMMs, whose M dimension is only the
   * batch (tens to a few thousand rows): lower than prefill, 30–50%.
   */
  readonly decodeCompute: number;
  /**
   * How memory and compute time combine near the ridge point: the step takes the
   * p-norm of the two (p = ∞ is perfect overlap, the textbook roofline; p = 1 is no
   * overlap). Kernels overlap HBM traffic and math only partly, so 2–4.
   */
  readonly rooflineBlendExponent: number;
  /** Achieved bus bandwidth of all-reduce and send/recv against the link peak; NCCL reaches 70–85%. */
  readonly linkBandwidth: number;
  /** Fixed cost of one small all-reduce (launch, synchronisation): 5–20 µs on NVLink. */
  readonly allReduceLatencyS: number;
  /** Fixed cost of one pipeline-stage hand-off (send/recv of activations). */
  readonly pipelineHopLatencyS: number;
  /** Per decode iteration: scheduling, sampling, detokenising, launch gaps. */
  readonly stepOverheadS: number;
  /**
   * Per request, before its prefill starts, as a client measures TTFT: HTTP, request
   * parsing, tokenisation, admission by the scheduler. A few milliseconds.
   */
  readonly requestOverheadS: number;
  /** Share of GPU memory the engine may use (vLLM gpu_memory_utilization, TensorRT-LLM free-memory fraction: 0.9 by default). */
  readonly usableMemoryFraction: number;
  /** Memory held back from the KV cache per GPU: CUDA context, activations, workspaces. */
  readonly runtimeReserveBytes: number;
  /** Most sequences an engine schedules in one iteration (TensorRT-LLM and vLLM cap it in the low thousands). */
  readonly maxBatchSequences: number;
  /**
   * Prompt tokens prefilled per iteration alongside the running decode batch
   * (vLLM's max_num_batched_tokens, TensorRT-LLM's max_num_tokens with chunked
   * context): long prompts take several iterations, each carrying a decode step.
   */
  readonly prefillChunkTokens: number;
}

export const DEFAULT_EFFICIENCY: EfficiencyFactors = {
  memoryBandwidth: 0.8,
  prefillCompute: 0.55,
  decodeCompute: 0.45,
  rooflineBlendExponent: 2,
  linkBandwidth: 0.75,
  allReduceLatencyS: 10e-6,
  pipelineHopLatencyS: 15e-6,
  stepOverheadS: 0.5e-3,
  requestOverheadS: 5e-3,
  usableMemoryFraction: 0.9,
  runtimeReserveBytes: 3 * 2 ** 30,
  maxBatchSequences: 2048,
  prefillChunkTokens: 2048,
};
