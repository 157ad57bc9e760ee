import type { GpuSpec } from "../hardware/gpu-catalog.js";
import { kvElementsPerTokenPerLayer, type ModelShape } from "../model/model-spec.js";

/** What the deployment must serve. */
export interface Workload {
  /** Longest sequence (prompt + output) in tokens; every admitted sequence may grow to it. */
  readonly maxModelLen: number;
  /** Sequences of maxModelLen the whole deployment must hold at once. */
  readonly concurrency: number;
  /** Share of each GPU's memory the engine may use, (0, 1] (vLLM's --gpu-memory-utilization). */
  readonly gpuMemoryUtilization: number;
}

export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9;
export const DEFAULT_MAX_MODEL_LEN = 8192;
export const DEFAULT_CONCURRENCY = 1;
/**
 * Tokens one forward pass may carry, which sizes the activation workspace: vLLM's
 * default max_num_batched_tokens with chunked prefill on data-center GPUs, and
 * llama.cpp's default micro-batch (-ub 512) on CPUs.
 * https://docs.vllm.ai/en/latest/configuration/optimization.html
 */
export const GPU_BATCH_TOKENS = 8192;
export const CPU_BATCH_TOKENS = 512;
/** Sequences whose logits the last stage computes in one step (vLLM's default max_num_seqs). */
export const LOGITS_ROWS = 256;
/**
 * KV cache element size: vLLM's `--kv-cache-dtype auto` keeps K and V in the
 * activation dtype (bf16/fp16) also for fp8/int weights; llama.cpp defaults to f16.
 * https://docs.vllm.ai/en/latest/features/quantization/quantized_kvcache.html
 */
export const KV_CACHE_BYTES_PER_ELEMENT = 2;
const ACTIVATION_BYTES_PER_ELEMENT = 2;
const LOGIT_BYTES_PER_ELEMENT = 4;

/** The memory of one GPU, by use. All in bytes. */
export interface MemoryPerGpu {
  /**
   * This GPU's share of its stage's weights: 1/tp of attention, dense MLPs and
   * shared experts, and its share of the routed experts (1/ep, or 1/tp without
   * expert parallelism).
   */
  readonly weightsBytes: number;
  /** The routed experts among weightsBytes (0 for dense models). */
  readonly expertWeightsBytes: number;
  /** What is left of the budget for the KV cache (negative when weights do not fit). */
  readonly kvCacheBytes: number;
  /** Peak activation workspace of one forward pass (plus logits on the last stage). */
  readonly activationBytes: number;
  /** Runtime memory: CUDA context, CUDA graphs, communication buffers. */
  readonly overheadBytes: number;
  /** memory × gpu-memory-utilization: weights + KV + activations + overhead must fit in it. */
  readonly budgetBytes: number;
}

/** KV heads one GPU holds under tensor parallelism; heads replicate when tp exceeds them. */
export function kvHeadsPerGpu(model: ModelShape, tp: number): number {
  return Math.ceil(model.numKvHeads / tp);
}

/**
 * Bytes of the KV cache for one token in one layer on one GPU: its share of the
 * KV heads under tensor parallelism, or for MLA the whole latent, which every
 * tensor-parallel rank keeps (vLLM's MLA backends cache it unsplit).
 */
export function kvBytesPerTokenPerLayerPerGpu(model: ModelShape, tp: number): number {
  if (model.mla) return kvElementsPerTokenPerLayer(model) * KV_CACHE_BYTES_PER_ELEMENT;
  const perHead = model.headDim + (model.valueHeadDim ?? model.headDim);
  return kvHeadsPerGpu(model, tp) * perHead * KV_CACHE_BYTES_PER_ELEMENT;
}

/**
 * Activation workspace per GPU for one forward pass of `batchTokens` tokens: the
 * residual stream and norm output (hidden), the q/k/v and attention output shards,
 * and the gate/up/down MLP shards (for a mixture of experts, the wider of the dense
 * MLP and a token's routed plus shared experts), live at the layer's peak; plus
 * fp32 logits for LOGITS_ROWS sequences on the last stage. An estimate, like
 * vLLM's profiling run.
 */
export function activationBytesPerGpu(
  model: ModelShape,
  gpu: GpuSpec,
  tp: number,
  lastStage: boolean,
): number {
  const tokens = gpu.kind === "cpu" ? CPU_BATCH_TOKENS : GPU_BATCH_TOKENS;
  const qkv = (model.numHeads / tp + 2 * kvHeadsPerGpu(model, tp)) * model.headDim;
  const moe = model.moe;
  const ffn = moe
    ? Math.max(
        model.ffnSize,
        moe.expertsPerToken * moe.expertFfnSize + moe.sharedExperts * moe.sharedExpertFfnSize,
      )
    : model.ffnSize;
  const perToken = 4 * model.hiddenSize + qkv + 3 * Math.ceil(ffn / tp);
  const logits = lastStage ? LOGITS_ROWS * Math.ceil(model.vocabSize / tp) * LOGIT_BYTES_PER_ELEMENT : 0;
  return tokens * perToken * ACTIVATION_BYTES_PER_ELEMENT + logits;
}

export function budgetBytes(gpu: GpuSpec, workload: Workload): number {
  return Math.floor(gpu.memoryBytes * workload.gpuMemoryUtilization);
}
