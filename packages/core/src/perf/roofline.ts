/**
 * First-principles quantities of transformer inference: bytes and FLOPs per token,
 * per-GPU shares under tensor and pipeline parallelism, collective and hand-off times.
 * Pure arithmetic; the prediction in predict.ts composes these.
 */
import type { EfficiencyFactors } from "./efficiency.js";
import {
  BYTES_PER_ELEMENT,
  type PerfDtype,
  type PerfGpu,
  type PerfLayout,
  type PerfModelShape,
} from "./types.js";

/** Activations travel between GPUs in 16-bit precision in every engine modelled. */
export const ACTIVATION_BYTES = 2;

export function kvDtypeOf(layout: PerfLayout): PerfDtype {
  return layout.kvDtype ?? layout.weightDtype;
}

/** Bytes of all weights of the model. */
export function modelWeightBytes(model: PerfModelShape, dtype: PerfDtype): number {
  return model.weightBytes ?? model.parameterCount * BYTES_PER_ELEMENT[dtype];
}

/** Bytes of K and V for one token in one layer, whole model (all KV heads). */
export function kvBytesPerTokenLayer(model: PerfModelShape, dtype: PerfDtype): number {
  return 2 * model.numKvHeads * model.headDim * BYTES_PER_ELEMENT[dtype];
}

/**
 * Ways the KV cache is split by tensor parallelism: KV heads are divided among TP
 * ranks, and replicated once there are more ranks than heads.
 */
export function kvShards(model: PerfModelShape, tp: number): number {
  return Math.min(tp, model.numKvHeads);
}

/** KV-cache bytes one GPU holds per token of context. */
export function kvBytesPerTokenPerGpu(model: PerfModelShape, layout: PerfLayout): number {
  const layersPerStage = model.numLayers / layout.pp;
  return (kvBytesPerTokenLayer(model, kvDtypeOf(layout)) * layersPerStage) / kvShards(model, layout.tp);
}

/** Weight bytes one GPU holds (layers split evenly over stages, tensors over TP ranks). */
export function weightBytesPerGpu(model: PerfModelShape, layout: PerfLayout): number {
  return modelWeightBytes(model, layout.weightDtype) / (layout.tp * layout.pp);
}

/** Bytes per GPU left for the KV cache after weights and runtime reserve; negative when the weights do not fit. */
export function kvBudgetBytesPerGpu(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  eff: EfficiencyFactors,
): number {
  return (
    gpu.memoryBytes * eff.usableMemoryFraction - eff.runtimeReserveBytes - weightBytesPerGpu(model, layout)
  );
}

/** Dense tensor-core peak in FLOP/s for the weight format (FP8 falls back to BF16 without FP8 units). */
export function peakFlopsPerS(gpu: PerfGpu, dtype: PerfDtype): number {
  const tflops =
    dtype === "fp8" && gpu.fp8DenseTflops !== undefined ? gpu.fp8DenseTflops : gpu.bf16DenseTflops;
  return tflops * 1e12;
}

/** Multiply-add FLOPs through the weights for one token (2 per parameter). */
export function denseFlopsPerToken(model: PerfModelShape): number {
  return 2 * model.parameterCount;
}

/** Attention-score and value FLOPs for one new token attending to `context` earlier tokens, all layers. */
export function attentionFlopsPerToken(model: PerfModelShape, context: number): number {
  return 4 * model.numLayers * model.numHeads * model.headDim * context;
}

/** FLOPs to prefill one prompt of `inputTokens` (causal attention: each token sees half the prompt on average). */
export function prefillFlops(model: PerfModelShape, inputTokens: number): number {
  return (
    inputTokens * denseFlopsPerToken(model) + inputTokens * attentionFlopsPerToken(model, inputTokens / 2)
  );
}

/** True when the replica's stages cannot all sit in one node, so stage hand-offs cross the network. */
export function pipelineCrossesNodes(layout: PerfLayout): boolean {
  return layout.tp * layout.pp > layout.gpusPerNode;
}

/** Link used by tensor parallelism: NVLink while TP stays inside a node. */
export function tensorParallelLinkBytesPerS(gpu: PerfGpu, layout: PerfLayout): number {
  return layout.tp <= layout.gpusPerNode ? gpu.intraNodeLinkBytesPerS : gpu.interNodeLinkBytesPerS;
}

export function pipelineLinkBytesPerS(gpu: PerfGpu, layout: PerfLayout): number {
  return pipelineCrossesNodes(layout) ? gpu.interNodeLinkBytesPerS : gpu.intraNodeLinkBytesPerS;
}

/** Ring all-reduce of `bytes` among `ranks` GPUs: each sends and receives 2(n−1)/n of the buffer. */
export function allReduceS(
  bytes: number,
  ranks: number,
  linkBytesPerS: number,
  eff: EfficiencyFactors,
): number {
  if (ranks <= 1) return 0;
  return eff.allReduceLatencyS + ((2 * (ranks - 1)) / ranks) * (bytes / (linkBytesPerS * eff.linkBandwidth));
}

/** Two all-reduces per layer (after attention and after the MLP) for `tokens` rows of activations. */
export function tensorParallelCommS(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  layers: number,
  tokens: number,
  eff: EfficiencyFactors,
): number {
  const bytes = tokens * model.hiddenSize * ACTIVATION_BYTES;
  return 2 * layers * allReduceS(bytes, layout.tp, tensorParallelLinkBytesPerS(gpu, layout), eff);
}

/** One stage-to-stage hand-off of `tokens` rows of hidden state. */
export function pipelineHopS(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  tokens: number,
  eff: EfficiencyFactors,
): number {
  if (layout.pp <= 1) return 0;
  const bytes = tokens * model.hiddenSize * ACTIVATION_BYTES;
  return eff.pipelineHopLatencyS + bytes / (pipelineLinkBytesPerS(gpu, layout) * eff.linkBandwidth);
}

/** p-norm of memory and compute time; ≥ max(memory, compute) for every p ≥ 1. */
export function blendRoofline(memoryS: number, computeS: number, exponent: number): number {
  const top = Math.max(memoryS, computeS);
  if (top === 0) return 0;
  return top * ((memoryS / top) ** exponent + (computeS / top) ** exponent) ** (1 / exponent);
}
