import type { PlanningEngine } from "../engines.js";
import type { GpuSpec } from "../hardware/gpu-catalog.js";
import type { ModelSpec, WeightBreakdown, WeightDtype } from "../model/model-spec.js";
import { assignLayers, headCostInLayers } from "./assign-layers.js";
import type { Cluster, ClusterNode } from "./cluster.js";
import type { LayerRange } from "./layer-range.js";
import {
  activationBytesPerGpu,
  budgetBytes,
  kvBytesPerTokenPerLayerPerGpu,
  type MemoryPerGpu,
  type Workload,
} from "./memory.js";
import { VLLM_CUDA_GRAPH_RESERVE_BYTES, VLLM_KV_BLOCK_TOKENS, vllmGpuKvCache } from "./vllm-memory.js";

/** Everything a layout is evaluated against; fixed for one planning run. */
export interface PlanContext {
  readonly model: ModelSpec;
  /** Undefined for GGUF models, whose tensor types are fixed. */
  readonly dtype: WeightDtype | undefined;
  readonly weights: WeightBreakdown;
  readonly workload: Workload;
  readonly cluster: Cluster;
  readonly nodes: readonly ClusterNode[];
  /** The engine that will run the plan; "vllm" counts the KV cache as vLLM does (whole blocks). */
  readonly engine?: PlanningEngine;
}

export interface CandidateStage {
  readonly index: number;
  readonly layers: LayerRange;
  /** The node hosting this stage in each replica, replica order. */
  readonly nodes: readonly string[];
  /** GPUs per replica in this stage: tp, or ep under expert parallelism. */
  readonly gpus: number;
  /** The tightest GPU kind among the replicas' copies of this stage. */
  readonly gpu: GpuSpec;
  readonly memoryPerGpu: MemoryPerGpu;
  /** KV-cache tokens one attention rank of this stage holds (each token needs a slot in every stage). */
  readonly kvCacheTokens: number;
}

/** One evaluated TP × EP × PP × DP layout. */
export interface Candidate {
  readonly tp: number;
  readonly pp: number;
  readonly dp: number;
  /**
   * Expert parallelism: 1 keeps every expert split by tensor parallelism; above
   * 1 the routed experts are spread whole over `ep` GPUs per stage, which run
   * attention as ep/tp data-parallel ranks of tp GPUs each (vLLM's
   * `--enable-expert-parallel` with `--data-parallel-size ep/tp`).
   */
  readonly ep: number;
  readonly gpusUsed: number;
  readonly fits: boolean;
  /** Why it does not fit, when it does not. */
  readonly shortfall?: "weights" | "kv-cache";
  readonly stages: readonly CandidateStage[];
  readonly kvCacheTokensPerReplica: number;
  /** Summed over replicas. */
  readonly kvCacheTokens: number;
  readonly maxConcurrentSequences: number;
  /** The stage GPU with the least room: fewest KV tokens, or most over budget. */
  readonly binding: CandidateStage;
  readonly context: PlanContext;
}

/** GPUs one pipeline stage of one replica takes: tp, or the expert-parallel group. */
export function stageWidth(tp: number, ep: number): number {
  return ep > 1 ? ep : tp;
}

/** A group of `width` GPUs inside one node that can host one pipeline stage of one replica. */
function stageSlots(nodes: readonly ClusterNode[], width: number): ClusterNode[] {
  const slots: ClusterNode[] = [];
  for (const node of nodes) {
    for (let i = 0; i < Math.floor(node.gpusPerNode / width); i++) slots.push(node);
  }
  return slots;
}

/**
 * Evaluates tp × pp (× ep) with as many replicas as the cluster holds, or returns
 * undefined when the cluster has fewer than pp stage slots.
 *
 * Replica r's stage s takes slot r·pp + s in node order, so a pipeline's stages
 * sit on neighbouring nodes. All replicas share one layer split, sized for the
 * tightest GPU at each stage position.
 *
 * Per GPU a stage holds 1/tp of its layers' attention, dense MLPs and shared
 * experts (replicated on each attention rank), and 1/ep of their routed experts
 * (1/tp without expert parallelism); layers may differ in size (DeepSeek's
 * dense leading layers, Llama 4's interleaving).
 *
 * Layers: memory decides how many KV-cache tokens T every stage can hold (the
 * most for which the layers still fit, found by bisection; a greedy fill in
 * layer order decides whether T fits); within the per-stage layer caps that T
 * allows, layers go in proportion to memory bandwidth × tp (decode is
 * bandwidth-bound), with the output head counted as its bytes in layer units.
 * When uneven layers make that split miss T, the greedy fill is used instead.
 */
export function evaluateLayout(ctx: PlanContext, tp: number, pp: number, ep = 1): Candidate | undefined {
  const { model, weights, workload } = ctx;
  const width = stageWidth(tp, ep);
  const slots = stageSlots(ctx.nodes, width);
  if (slots.length < pp || pp > model.numLayers) return undefined;
  const dp = Math.floor(slots.length / pp);
  /** Attention ranks per stage: each holds its own sequences' KV cache. */
  const attentionRanks = width / tp;

  const positions = Array.from({ length: pp }, (_, s) => {
    const hosts = Array.from({ length: dp }, (_, r) => slots[r * pp + s] as ClusterNode);
    const last = s === pp - 1;
    const room = (g: GpuSpec) =>
      budgetBytes(g, workload) - g.runtimeOverheadBytes - activationBytesPerGpu(model, g, tp, last);
    const tightest = hosts.reduce((a, b) => (room(b.gpu) < room(a.gpu) ? b : a));
    const slowest = Math.min(...hosts.map((h) => h.gpu.memoryBandwidthBytesPerS));
    const extraBytes =
      (s === 0 ? weights.embeddingBytes : 0) +
      (last ? weights.headBytes + (pp > 1 ? weights.tiedHeadCopyBytes : 0) : 0);
    return {
      hosts,
      gpu: tightest.gpu,
      free: room(tightest.gpu),
      extraPerGpu: extraBytes / tp,
      slowest,
      last,
    };
  });

  const expertShards = width;
  const expertPerGpu = weights.expertBytes.map((b) => b / expertShards);
  const layerPerGpu = weights.layerBytes.map(
    (b, i) => (b - (weights.expertBytes[i] ?? 0)) / tp + (expertPerGpu[i] ?? 0),
  );
  const layerPerGpuMean = layerPerGpu.reduce((a, b) => a + b, 0) / model.numLayers;
  const kvLayer = kvBytesPerTokenPerLayerPerGpu(model, tp);
  const budgets = positions.map((p) => p.free - p.extraPerGpu);
  const fill = (tokens: number) => greedyFill(layerPerGpu, budgets, tokens * kvLayer);
  const feasible = (tokens: number) => fill(tokens) !== undefined;

  let ranges: LayerRange[];
  const headCost = headCostInLayers(weights, pp);
  if (feasible(0)) {
    let lo = 0;
    let hi = 1;
    while (feasible(hi)) hi *= 2;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (feasible(mid)) lo = mid;
      else hi = mid;
    }
    const uniform = layerPerGpu.every((b) => Math.abs(b - layerPerGpuMean) <= layerPerGpuMean * 1e-9);
    if (uniform) {
      ranges = assignLayers({
        numLayers: model.numLayers,
        stageCapacities: positions.map((p) => p.slowest * tp),
        embeddingCost: 0,
        headCost,
        maxLayersPerStage: budgets.map((b) => Math.max(0, Math.floor(b / (layerPerGpuMean + lo * kvLayer)))),
      });
    } else {
      // Uneven layers (dense leading layers, interleaved MoE): balance the bytes each
      // stage streams per step over its bandwidth, within what holds lo tokens.
      const heads = positions.map((p) => (p.last ? headCost * layerPerGpuMean : 0));
      ranges = balancedFill(
        layerPerGpu,
        budgets,
        lo * kvLayer,
        positions.map((p) => p.slowest),
        heads,
      );
    }
  } else {
    // Does not fit: split by free memory so the report shows the least-bad layout.
    ranges = assignLayers({
      numLayers: model.numLayers,
      stageCapacities: positions.map((p) => Math.max(p.free, 1)),
      embeddingCost: positions[0] ? positions[0].extraPerGpu / layerPerGpuMean : 0,
      headCost,
    });
  }

  const stages: CandidateStage[] = positions.map((p, s) => {
    const range = ranges[s] as LayerRange;
    const { first, last } = range;
    let stageBytes = 0;
    let stageExperts = 0;
    for (let i = first; i <= last; i++) {
      stageBytes += layerPerGpu[i] ?? 0;
      stageExperts += expertPerGpu[i] ?? 0;
    }
    const weightsBytes = Math.ceil(stageBytes + p.extraPerGpu);
    const budget = budgetBytes(p.gpu, workload);
    const activation = activationBytesPerGpu(model, p.gpu, tp, p.last);
    const kvCacheBytes = budget - p.gpu.runtimeOverheadBytes - activation - weightsBytes;
    const layers = last - first + 1;
    return {
      index: s,
      layers: range,
      nodes: p.hosts.map((h) => h.name),
      gpus: width,
      gpu: p.gpu,
      memoryPerGpu: {
        weightsBytes,
        expertWeightsBytes: Math.ceil(stageExperts),
        kvCacheBytes,
        activationBytes: activation,
        overheadBytes: p.gpu.runtimeOverheadBytes,
        budgetBytes: budget,
      },
      kvCacheTokens:
        ctx.engine === "vllm"
          ? vllmStageKvTokens(ctx, p.gpu, weightsBytes, activation, layers, kvLayer)
          : kvCacheBytes > 0
            ? Math.floor(kvCacheBytes / (layers * kvLayer))
            : 0,
    };
  });

  const weightsFit = stages.every((s) => s.memoryPerGpu.kvCacheBytes >= 0);
  const tokensPerRank = Math.min(...stages.map((s) => s.kvCacheTokens));
  const kvCacheTokensPerReplica = tokensPerRank * attentionRanks;
  const maxConcurrentSequences = dp * attentionRanks * Math.floor(tokensPerRank / workload.maxModelLen);
  const fits = weightsFit && maxConcurrentSequences >= workload.concurrency;
  const binding = weightsFit
    ? stages.reduce((a, b) => (b.kvCacheTokens < a.kvCacheTokens ? b : a))
    : stages.reduce((a, b) => (b.memoryPerGpu.kvCacheBytes < a.memoryPerGpu.kvCacheBytes ? b : a));
  return {
    tp,
    pp,
    dp,
    ep,
    gpusUsed: width * pp * dp,
    fits,
    ...(fits ? {} : { shortfall: weightsFit ? ("kv-cache" as const) : ("weights" as const) }),
    stages,
    kvCacheTokensPerReplica,
    kvCacheTokens: kvCacheTokensPerReplica * dp,
    maxConcurrentSequences,
    binding,
    context: ctx,
  };
}

/**
 * A vLLM rank's KV tokens as vLLM counts them (vllm-memory.ts): the budget
 * less weights, activations, non-torch memory and the CUDA-graph reserve (the
 * GPU's runtime reserve holds both), in whole blocks.
 */
function vllmStageKvTokens(
  ctx: PlanContext,
  gpu: GpuSpec,
  weightsBytes: number,
  activationBytes: number,
  layers: number,
  kvLayer: number,
): number {
  const cudaGraphBytes =
    gpu.kind === "gpu" ? Math.min(VLLM_CUDA_GRAPH_RESERVE_BYTES, gpu.runtimeOverheadBytes) : 0;
  return vllmGpuKvCache(
    {
      totalBytes: gpu.memoryBytes,
      gpuMemoryUtilization: ctx.workload.gpuMemoryUtilization,
      weightsBytes,
      activationPeakBytes: activationBytes,
      nonTorchBytes: gpu.runtimeOverheadBytes - cudaGraphBytes,
      cudaGraphBytes,
    },
    {
      kvBytesPerTokenPerLayer: kvLayer,
      layers,
      blockTokens: VLLM_KV_BLOCK_TOKENS[gpu.kind],
      maxModelLen: ctx.workload.maxModelLen,
    },
  ).tokens;
}

/**
 * Contiguous layer ranges, one per stage in order, each filled as far as its
 * budget (and, when given, its load limit) allows while leaving one layer for
 * every later stage; undefined when the layers do not all fit. Filling each
 * stage to the brim is the best any contiguous split can do, so this decides
 * feasibility exactly.
 */
function greedyFill(
  layerPerGpu: readonly number[],
  budgets: readonly number[],
  kvPerLayer: number,
  loadLimits?: readonly number[],
): LayerRange[] | undefined {
  const ranges: LayerRange[] = [];
  let next = 0;
  for (let s = 0; s < budgets.length; s++) {
    const laterStages = budgets.length - 1 - s;
    const lastAllowed = layerPerGpu.length - 1 - laterStages;
    let used = 0;
    let load = 0;
    let end = next - 1;
    const limit = loadLimits?.[s] ?? Number.POSITIVE_INFINITY;
    while (
      end < lastAllowed &&
      used + (layerPerGpu[end + 1] ?? 0) + kvPerLayer <= (budgets[s] ?? 0) &&
      load + (layerPerGpu[end + 1] ?? 0) <= limit
    ) {
      end++;
      used += (layerPerGpu[end] ?? 0) + kvPerLayer;
      load += layerPerGpu[end] ?? 0;
    }
    if (end < next) return undefined;
    ranges.push({ first: next, last: end });
    next = end + 1;
  }
  return next === layerPerGpu.length ? ranges : undefined;
}

/**
 * The contiguous split that minimises the largest (bytes streamed per step) /
 * (memory bandwidth) over the stages while every stage holds `kvPerLayer` of KV
 * cache per layer within its budget: bisection on that ratio, each step a
 * greedy fill (optimal for a fixed ratio). `headLoads` adds the output head's
 * bytes to the last stage. Callers ensure the budgets alone are feasible.
 */
function balancedFill(
  layerPerGpu: readonly number[],
  budgets: readonly number[],
  kvPerLayer: number,
  bandwidths: readonly number[],
  headLoads: readonly number[],
): LayerRange[] {
  const total = layerPerGpu.reduce((a, b) => a + b, 0) + headLoads.reduce((a, b) => a + b, 0);
  const limitsAt = (ratio: number) => bandwidths.map((bw, s) => ratio * bw - (headLoads[s] ?? 0));
  let lo = 0;
  let hi = total / Math.min(...bandwidths);
  let best = greedyFill(layerPerGpu, budgets, kvPerLayer, limitsAt(hi));
  for (let i = 0; i < 60 && best; i++) {
    const mid = (lo + hi) / 2;
    const ranges = greedyFill(layerPerGpu, budgets, kvPerLayer, limitsAt(mid));
    if (ranges) {
      best = ranges;
      hi = mid;
    } else lo = mid;
  }
  return best ?? (greedyFill(layerPerGpu, budgets, kvPerLayer) as LayerRange[]);
}
