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

/**
 * Bytes of K and V for one token in one layer, whole model (all KV heads, or MLA's
 * latent). mxfp4 is a weight format only: such checkpoints cache K and V in 16-bit.
 */
export function kvBytesPerTokenLayer(model: PerfModelShape, dtype: PerfDtype): number {
  const bytes = BYTES_PER_ELEMENT[dtype === "mxfp4" ? "bf16" : dtype];
  if (model.mla) return (model.mla.kvLoraRank + model.mla.ropeDim) * bytes;
  return 2 * model.numKvHeads * model.headDim * bytes;
}

/**
 * Ways the KV cache is split by tensor parallelism: KV heads are divided among TP
 * ranks, and replicated once there are more ranks than heads. MLA's latent is
 * not split: every rank keeps all of it.
 */
export function kvShards(model: PerfModelShape, tp: number): number {
  return model.mla ? 1 : Math.min(tp, model.numKvHeads);
}

/** GPUs per pipeline stage of one replica: tp, or the expert-parallel group. */
export function stageGpus(layout: PerfLayout): number {
  const ep = layout.ep ?? 1;
  return ep > 1 ? ep : layout.tp;
}

/** Attention data-parallel ranks per stage (ep/tp under expert parallelism, else 1); each has its own sequences. */
export function attentionRanks(layout: PerfLayout): number {
  return stageGpus(layout) / layout.tp;
}

/** KV-cache bytes one GPU holds per token of context (of its own attention rank's sequences). */
export function kvBytesPerTokenPerGpu(model: PerfModelShape, layout: PerfLayout): number {
  const layersPerStage = model.numLayers / layout.pp;
  return (kvBytesPerTokenLayer(model, kvDtypeOf(layout)) * layersPerStage) / kvShards(model, layout.tp);
}

/** Routed-expert bytes of the whole model as stored (0 for a dense model). */
function routedExpertBytes(model: PerfModelShape): number {
  return model.moe?.routedExpertBytes ?? 0;
}

/**
 * Weight bytes one GPU holds: layers split evenly over stages; attention, dense
 * MLPs and shared experts over the TP ranks (replicated on each attention rank),
 * routed experts over the stage's GPUs.
 */
export function weightBytesPerGpu(model: PerfModelShape, layout: PerfLayout): number {
  const experts = routedExpertBytes(model);
  const rest = modelWeightBytes(model, layout.weightDtype) - experts;
  return rest / (layout.tp * layout.pp) + experts / (stageGpus(layout) * layout.pp);
}

/**
 * Expected number of distinct experts a batch of `tokens` touches in one MoE layer
 * when each token picks k of E experts: E·(1 − (1 − k/E)^tokens), treating the
 * picks as independent and uniform (what load balancing aims for). 1 token → k;
 * many → E.
 */
export function expectedDistinctExperts(numExperts: number, expertsPerToken: number, tokens: number): number {
  if (tokens <= 0) return 0;
  return numExperts * (1 - (1 - expertsPerToken / numExperts) ** tokens);
}

/**
 * Weight bytes one GPU reads from HBM in one decode step of `tokens` tokens across
 * its stage (all attention ranks): all of its non-expert share, and of the routed
 * experts only those the tokens touch, spread over the stage's GPUs.
 */
export function decodeWeightBytesPerGpu(model: PerfModelShape, layout: PerfLayout, tokens: number): number {
  const moe = model.moe;
  if (!moe) return weightBytesPerGpu(model, layout);
  const experts = routedExpertBytes(model);
  const rest = modelWeightBytes(model, layout.weightDtype) - experts;
  const touched = expectedDistinctExperts(moe.numExperts, moe.expertsPerToken, tokens) / moe.numExperts;
  return rest / (layout.tp * layout.pp) + (experts * touched) / (stageGpus(layout) * layout.pp);
}

/**
 * Bytes per GPU left for the KV cache after weights and runtime reserve; negative
 * when the weights do not fit. Under the `device` rule the engine's fraction is of
 * the whole device memory (vLLM), under `free` of what weights and workspace leave
 * (TensorRT-LLM).
 */
export function kvBudgetBytesPerGpu(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  eff: EfficiencyFactors,
): number {
  const device = gpu.reportedMemoryBytes ?? gpu.memoryBytes;
  const resident = eff.runtimeReserveBytes + weightBytesPerGpu(model, layout);
  if (eff.kvMemoryRule === "free") {
    const free = device - resident;
    return free > 0 ? free * eff.usableMemoryFraction : free;
  }
  return device * eff.usableMemoryFraction - resident;
}

/** Dense tensor-core peak in FLOP/s for the weight format (FP8 falls back to BF16 without FP8 units). */
export function peakFlopsPerS(gpu: PerfGpu, dtype: PerfDtype): number {
  const tflops =
    dtype === "fp8" && gpu.fp8DenseTflops !== undefined ? gpu.fp8DenseTflops : gpu.bf16DenseTflops;
  return tflops * 1e12;
}

/** Multiply-add FLOPs through the weights for one token (2 per active parameter). */
export function denseFlopsPerToken(model: PerfModelShape): number {
  return 2 * (model.activeParameterCount ?? model.parameterCount);
}

/** The part of denseFlopsPerToken in routed experts: 2 per parameter of the k of E experts a token picks. */
export function routedExpertFlopsPerToken(model: PerfModelShape): number {
  const moe = model.moe;
  if (!moe?.routedExpertParameterCount) return 0;
  return (2 * moe.routedExpertParameterCount * moe.expertsPerToken) / moe.numExperts;
}

/**
 * Seconds of tensor-core time for `flops` of which `expertFlops` are routed-expert
 * FLOPs, at a GEMM efficiency `efficiency` (of `peak`) that the experts' grouped GEMMs
 * reach only `moeEfficiency` of.
 */
export function gemmSeconds(
  flops: number,
  expertFlops: number,
  peak: number,
  efficiency: number,
  moeEfficiency: number,
): number {
  return (flops - expertFlops) / (peak * efficiency) + expertFlops / (peak * efficiency * moeEfficiency);
}

/**
 * Attention-score and value FLOPs for one new token attending to `context` earlier
 * tokens, all layers: per head, a dot product over the key and a sum over the
 * value. MLA attends over the latent (key kvLoraRank + ropeDim, value kvLoraRank),
 * as vLLM's MLA decode kernels do.
 */
export function attentionFlopsPerToken(model: PerfModelShape, context: number): number {
  const perHead = model.mla ? 2 * (2 * model.mla.kvLoraRank + model.mla.ropeDim) : 4 * model.headDim;
  return model.numLayers * model.numHeads * perHead * context;
}

/** Routed-expert FLOPs of prefilling one prompt of `inputTokens`. */
export function prefillExpertFlops(model: PerfModelShape, inputTokens: number): number {
  return inputTokens * routedExpertFlopsPerToken(model);
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

/** Link used by the expert-parallel all-to-all: NVLink while the ep group stays inside a node. */
export function expertParallelLinkBytesPerS(gpu: PerfGpu, layout: PerfLayout): number {
  return stageGpus(layout) <= layout.gpusPerNode ? gpu.intraNodeLinkBytesPerS : gpu.interNodeLinkBytesPerS;
}

/**
 * Expert-parallel traffic of `layers` MoE layers for `tokens` tokens of the whole
 * stage: per layer a dispatch and a combine all-to-all, in which each GPU sends its
 * share of the tokens' hidden states to the k experts they picked, the (ep−1)/ep of
 * them held elsewhere, and receives as much back. 0 without expert parallelism
 * (experts split by TP reduce with the TP all-reduce already counted).
 */
export function expertParallelCommS(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  layers: number,
  tokens: number,
  eff: EfficiencyFactors,
): number {
  const ep = layout.ep ?? 1;
  const moe = model.moe;
  if (ep <= 1 || !moe || tokens <= 0) return 0;
  const bytesPerGpu =
    (tokens / ep) * moe.expertsPerToken * model.hiddenSize * ACTIVATION_BYTES * ((ep - 1) / ep);
  const oneWay =
    eff.allReduceLatencyS + bytesPerGpu / (expertParallelLinkBytesPerS(gpu, layout) * eff.linkBandwidth);
  return 2 * layers * oneWay;
}

/** MoE layers of one pipeline stage, layers split evenly. */
export function moeLayersPerStage(model: PerfModelShape, layout: PerfLayout): number {
  return (model.moe?.moeLayers ?? 0) / layout.pp;
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
