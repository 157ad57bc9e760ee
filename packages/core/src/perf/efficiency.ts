/**
 * The named efficiency factors of the performance model: how far real kernels, links
 * and schedulers fall short of the datasheet figures. Every prediction is the
 * datasheet roofline slowed down by these and nothing else; there is no per-model
 * correction.
 *
 * How they were chosen: each is a value from the range published or commonly
 * measured for its effect (noted per factor). The five that differ most between
 * architectures and engines (memoryBandwidth, decodeCompute, prefillCompute,
 * layerLatencyS, requestOverheadS), and the two mixture-of-experts factors, are fitted
 * per (GPU family, engine) cell on published measurements (efficiency-table.ts,
 * shipped-factors.ts); the rest keep these values. The two TTFT terms
 * (requestOverheadS, prefillChunkTokens) were added when the comparison showed TTFT
 * too low under load, with values from engine defaults.
 * How each engine sizes its KV cache is a documented engine behaviour, not a fit
 * (ENGINE_MEMORY). The property tests in limits.test.ts hold for any values in range.
 */
import type { PlanningEngine } from "../engines.js";

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
   * Per transformer layer per decode iteration, on top of the roofline: the time a
   * layer's dozen-odd kernels (norms, projections, attention, activation, residual)
   * and its synchronisation take when the batch is too small to hide them. A kernel
   * launch costs 2–5 µs without CUDA/HIP graphs and under 1 µs with them, and small
   * kernels have a floor of a few µs each, so 10–150 µs per layer. It is what makes a
   * 70B model decode far slower per byte than a 405B one on the same GPUs (AMD's
   * MI300X latency tables: 8.4 ms per step for 80 layers, 23.6 ms for 126).
   */
  readonly layerLatencyS: number;
  /**
   * Per request, before its prefill starts, as a client measures TTFT: HTTP, request
   * parsing, tokenisation, admission by the scheduler. A few milliseconds.
   */
  readonly requestOverheadS: number;
  /**
   * Mixture of experts: the share of the dense GEMM efficiency (decodeCompute,
   * prefillCompute) that the routed experts' grouped GEMMs reach. Each expert
   * multiplies only the tokens routed to it (batch × k / E rows), and the tokens are
   * gathered and scattered around the GEMMs, so expert FLOPs run slower than a dense
   * layer's; fused MoE kernels report 1.2–2× differences between implementations at
   * the same batch (https://blog.vllm.ai/2026/07/06/vllm-hpc-ops.html). 1 for a dense
   * model's default: no difference.
   */
  readonly moeComputeEfficiency: number;
  /**
   * Mixture of experts: fixed time per MoE layer per decode step, beyond
   * layerLatencyS: routing (top-k), token permutation, the grouped-GEMM launches and
   * the combine. A fused MoE layer at batch 4 takes 42–75 µs on H20 (same source).
   */
  readonly moeLayerLatencyS: number;
  /** Share of GPU memory the engine may use (vLLM gpu_memory_utilization, TensorRT-LLM free-memory fraction: 0.9 by default). */
  readonly usableMemoryFraction: number;
  /**
   * What usableMemoryFraction is a share of: `device`, all of the GPU's memory, from
   * which the engine then subtracts weights and workspace (vLLM's
   * gpu_memory_utilization, SGLang's mem_fraction_static); `free`, the memory left
   * once weights and workspace are loaded (TensorRT-LLM's
   * kv_cache_free_gpu_mem_fraction).
   */
  readonly kvMemoryRule: KvMemoryRule;
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

export const KV_MEMORY_RULES = ["device", "free"] as const;
export type KvMemoryRule = (typeof KV_MEMORY_RULES)[number];

export const DEFAULT_EFFICIENCY: EfficiencyFactors = {
  memoryBandwidth: 0.8,
  prefillCompute: 0.55,
  decodeCompute: 0.45,
  rooflineBlendExponent: 2,
  linkBandwidth: 0.75,
  allReduceLatencyS: 10e-6,
  pipelineHopLatencyS: 15e-6,
  stepOverheadS: 0.5e-3,
  layerLatencyS: 20e-6,
  moeComputeEfficiency: 1,
  moeLayerLatencyS: 0,
  requestOverheadS: 5e-3,
  usableMemoryFraction: 0.9,
  kvMemoryRule: "device",
  runtimeReserveBytes: 3 * 2 ** 30,
  maxBatchSequences: 2048,
  prefillChunkTokens: 2048,
};

/**
 * How each engine sizes its KV cache, from its documentation; everything else
 * about an engine is in the fitted cells. An engine not listed (or unknown) keeps
 * DEFAULT_EFFICIENCY's rule.
 * - vLLM: `gpu_memory_utilization` (default 0.9) is "the fraction of GPU memory to be
 *   used for the model executor", weights and activations included
 *   (https://docs.vllm.ai/en/latest/configuration/engine_args.html); its memory
 *   profiling leaves about 1–2 GiB per GPU outside weights and KV cache for
 *   activations, CUDA graphs and communication buffers
 *   (https://docs.vllm.ai/en/latest/configuration/conserving_memory.html), 1.5 GiB
 *   here as in the planner's GPU catalog. SGLang's
 *   mem_fraction_static works the same way; its default depends on the GPU, so it
 *   keeps the default rule and fraction here.
 * - TensorRT-LLM: `free_gpu_memory_fraction` (default 0.9): "TensorRT LLM will try to
 *   allocate 90% of free GPU memory for KV cache", free once the model is loaded
 *   (https://nvidia.github.io/TensorRT-LLM/examples/kvcacheconfig.html); its performance
 *   overview runs many results at 0.95
 *   (https://github.com/NVIDIA/TensorRT-LLM/blob/00f37686aa854010d68bcbd0f4ab000221541ca6/docs/source/performance/perf-overview.md).
 */
export const ENGINE_MEMORY: Readonly<
  Partial<
    Record<
      PlanningEngine,
      Partial<Pick<EfficiencyFactors, "usableMemoryFraction" | "kvMemoryRule" | "runtimeReserveBytes">>
    >
  >
> = {
  vllm: { usableMemoryFraction: 0.9, kvMemoryRule: "device", runtimeReserveBytes: 1.5 * 2 ** 30 },
  trtllm: { usableMemoryFraction: 0.9, kvMemoryRule: "free" },
};

/** DEFAULT_EFFICIENCY with the engine's KV-cache sizing rule. */
export function engineEfficiency(engine: PlanningEngine | undefined): EfficiencyFactors {
  const memory = engine === undefined ? undefined : ENGINE_MEMORY[engine];
  return memory ? { ...DEFAULT_EFFICIENCY, ...memory } : DEFAULT_EFFICIENCY;
}
