/**
 * Inputs and outputs of the performance model. The inputs are structural so that the
 * planner's model specs and GPU catalog entries can be passed as they are; only the
 * figures the model reads are listed.
 */

/** Numeric formats of weights, activations and the KV cache. */
export type PerfDtype = "bf16" | "fp16" | "fp8" | "int8" | "mxfp4" | "int4";

/** Bytes one element occupies in memory (mxfp4: 4 bits and an 8-bit scale per 32). */
export const BYTES_PER_ELEMENT: Readonly<Record<PerfDtype, number>> = {
  bf16: 2,
  fp16: 2,
  fp8: 1,
  int8: 1,
  mxfp4: 0.5 + 1 / 32,
  int4: 0.5,
};

/** The shape of a dense decoder-only transformer (Llama family and peers). */
export interface PerfModelShape {
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** All weights, embeddings and LM head included. */
  readonly parameterCount: number;
  /**
   * Bytes of all weights as stored, when known exactly (GGUF files, checkpoints that
   * keep embeddings in 16-bit); otherwise parameterCount × the weight dtype's size.
   */
  readonly weightBytes?: number | undefined;
  /**
   * Parameters one token multiplies through (2 FLOPs each): for a mixture of
   * experts only its top-k routed experts count. Default parameterCount.
   */
  readonly activeParameterCount?: number | undefined;
  /** Mixture-of-experts layers; absent for a dense model. */
  readonly moe?: PerfMoe | undefined;
  /**
   * Multi-head latent attention (DeepSeek): the KV cache holds kvLoraRank + ropeDim
   * elements per token and layer, whole on every tensor-parallel rank, and decode
   * attends over that latent.
   */
  readonly mla?: { readonly kvLoraRank: number; readonly ropeDim: number } | undefined;
}

/** What the performance model reads of a mixture of experts. */
export interface PerfMoe {
  readonly numExperts: number;
  /** Routed experts per token (top-k). */
  readonly expertsPerToken: number;
  /** Layers with routed experts. */
  readonly moeLayers: number;
  /** Bytes of every routed expert of every layer, as stored (part of the model's weight bytes). */
  readonly routedExpertBytes: number;
  /**
   * Parameters of every routed expert of every layer; a token multiplies k/E of them
   * (part of activeParameterCount). Absent: FLOPs are not split between experts and
   * the rest, and the MoE compute factor has nothing to apply to.
   */
  readonly routedExpertParameterCount?: number | undefined;
}

/** The figures of one GPU the model needs (per GPU, dense, no sparsity). */
export interface PerfGpu {
  readonly memoryBytes: number;
  /**
   * Device memory as the CUDA/ROCm runtime reports it, which is what engines take
   * their memory fractions of; memoryBytes where absent.
   */
  readonly reportedMemoryBytes?: number | undefined;
  readonly memoryBandwidthBytesPerS: number;
  readonly bf16DenseTflops: number;
  /** Absent where the GPU has no FP8 tensor cores; FP8 weights then compute at the BF16 rate. */
  readonly fp8DenseTflops?: number | undefined;
  /** Per GPU, one direction, to any peer in the node (NVLink/NVSwitch, Infinity Fabric). */
  readonly intraNodeLinkBytesPerS: number;
  /** Per GPU, one direction, to a peer in another node (InfiniBand/RoCE NIC). */
  readonly interNodeLinkBytesPerS: number;
}

/** How one replica is split, and how many replicas serve. */
export interface PerfLayout {
  readonly tp: number;
  readonly pp: number;
  /**
   * Expert parallelism (default 1: experts split by tp). Above 1, each stage has
   * ep GPUs holding 1/ep of the routed experts each, and attention runs as ep/tp
   * data-parallel ranks of tp GPUs, each with its own sequences; every MoE layer
   * then exchanges tokens all-to-all within the ep group.
   */
  readonly ep?: number | undefined;
  readonly replicas: number;
  readonly gpusPerNode: number;
  readonly weightDtype: PerfDtype;
  /** Defaults to the weight dtype (FP8 checkpoints ship an FP8 KV cache). */
  readonly kvDtype?: PerfDtype | undefined;
}

/**
 * What the replicas are asked to do. `concurrency` undefined means offline: every
 * request is queued at once and the engine batches as many as the KV cache holds.
 */
export interface PerfWorkload {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Requests in flight across all replicas (closed loop), or undefined for offline. */
  readonly concurrency?: number | undefined;
}

/** Time of one decode step of one pipeline stage, split by cause (seconds). */
export interface DecodeStageBreakdown {
  readonly memoryS: number;
  readonly computeS: number;
  readonly tensorParallelCommS: number;
  /** All-to-all dispatch and combine of the stage's MoE layers under expert parallelism. */
  readonly expertParallelCommS: number;
  readonly pipelineHopS: number;
  /** The stage's layers times the per-layer latency floor (kernel launches, synchronisation), MoE layers' own on top. */
  readonly layerLatencyS: number;
}

export type PerfBottleneck = "memory-bandwidth" | "compute" | "interconnect";

export interface PerfPrediction {
  /** Sequences decoding together in one replica. */
  readonly batchPerReplica: number;
  /** Tokens of KV cache one replica holds. */
  readonly kvCapacityTokensPerReplica: number;
  /** True when the KV cache, not the requested concurrency or engine cap, limits the batch. */
  readonly batchLimitedByKv: boolean;
  /** Prompt tokens per second all replicas can prefill when doing nothing else. */
  readonly prefillTokensPerS: number;
  readonly ttftMs: number;
  /** Time between output tokens a user sees, prefill of other requests interleaved. */
  readonly tpotMs: number;
  /** Output tokens per second across all replicas. */
  readonly outputTokensPerS: number;
  readonly outputTokensPerSPerGpu: number;
  readonly outputTokensPerSPerUser: number;
  readonly decodeStage: DecodeStageBreakdown;
  /** Fraction of a decode cycle pipeline stages sit idle (fewer microbatches than stages). */
  readonly pipelineBubbleFraction: number;
  readonly bottleneck: PerfBottleneck;
}
