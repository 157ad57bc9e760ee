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

/** Everything a layout is evaluated against; fixed for one planning run. */
export interface PlanContext {
  readonly model: ModelSpec;
  /** Undefined for GGUF models, whose tensor types are fixed. */
  readonly dtype: WeightDtype | undefined;
  readonly weights: WeightBreakdown;
  readonly workload: Workload;
  readonly cluster: Cluster;
  readonly nodes: readonly ClusterNode[];
}

export interface CandidateStage {
  readonly index: number;
  readonly layers: LayerRange;
  /** The node hosting this stage in each replica, replica order. */
  readonly nodes: readonly string[];
  /** GPUs per replica in this stage (= tp). */
  readonly gpus: number;
  /** The tightest GPU kind among the replicas' copies of this stage. */
  readonly gpu: GpuSpec;
  readonly memoryPerGpu: MemoryPerGpu;
  /** KV-cache tokens this stage can hold (each token needs a slot in every stage). */
  readonly kvCacheTokens: number;
}

/** One evaluated TP × PP × DP layout. */
export interface Candidate {
  readonly tp: number;
  readonly pp: number;
  readonly dp: number;
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

/** A group of tp GPUs inside one node that can host one pipeline stage of one replica. */
function stageSlots(nodes: readonly ClusterNode[], tp: number): ClusterNode[] {
  const slots: ClusterNode[] = [];
  for (const node of nodes) {
    for (let i = 0; i < Math.floor(node.gpusPerNode / tp); i++) slots.push(node);
  }
  return slots;
}

/**
 * Evaluates tp × pp with as many replicas as the cluster holds, or returns
 * undefined when the cluster has fewer than pp stage slots of tp GPUs.
 *
 * Replica r's stage s takes slot r·pp + s in node order, so a pipeline's stages
 * sit on neighbouring nodes. All replicas share one layer split, sized for the
 * tightest GPU at each stage position.
 *
 * Layers: memory decides how many each stage may take (the most KV-cache tokens
 * T for which per-stage caps still cover every layer, found by bisection); within
 * those caps layers go in proportion to memory bandwidth × tp (decode is
 * bandwidth-bound), with the output head counted as its bytes in layer units.
 */
export function evaluateLayout(ctx: PlanContext, tp: number, pp: number): Candidate | undefined {
  const { model, weights, workload } = ctx;
  const slots = stageSlots(ctx.nodes, tp);
  if (slots.length < pp || pp > model.numLayers) return undefined;
  const dp = Math.floor(slots.length / pp);

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

  const layerBytesMean = weights.layerBytes.reduce((a, b) => a + b, 0) / model.numLayers;
  const layerPerGpu = layerBytesMean / tp;
  const kvLayer = kvBytesPerTokenPerLayerPerGpu(model, tp);
  const capsFor = (tokens: number) =>
    positions.map((p) =>
      Math.max(0, Math.floor((p.free - p.extraPerGpu) / (layerPerGpu + tokens * kvLayer))),
    );
  const feasible = (tokens: number) => {
    const caps = capsFor(tokens);
    return caps.every((c) => c >= 1) && caps.reduce((a, b) => a + b, 0) >= model.numLayers;
  };

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
    ranges = assignLayers({
      numLayers: model.numLayers,
      stageCapacities: positions.map((p) => p.slowest * tp),
      embeddingCost: 0,
      headCost,
      maxLayersPerStage: capsFor(lo),
    });
  } else {
    // Does not fit: split by free memory so the report shows the least-bad layout.
    ranges = assignLayers({
      numLayers: model.numLayers,
      stageCapacities: positions.map((p) => Math.max(p.free, 1)),
      embeddingCost: positions[0] ? positions[0].extraPerGpu / layerPerGpu : 0,
      headCost,
    });
  }

  const stages: CandidateStage[] = positions.map((p, s) => {
    const range = ranges[s] as LayerRange;
    const { first, last } = range;
    let stageLayerBytes = 0;
    for (let i = first; i <= last; i++) stageLayerBytes += weights.layerBytes[i] ?? 0;
    const weightsBytes = Math.ceil(stageLayerBytes / tp + p.extraPerGpu);
    const budget = budgetBytes(p.gpu, workload);
    const activation = activationBytesPerGpu(model, p.gpu, tp, p.last);
    const kvCacheBytes = budget - p.gpu.runtimeOverheadBytes - activation - weightsBytes;
    const layers = last - first + 1;
    return {
      index: s,
      layers: range,
      nodes: p.hosts.map((h) => h.name),
      gpus: tp,
      gpu: p.gpu,
      memoryPerGpu: {
        weightsBytes,
        kvCacheBytes,
        activationBytes: activation,
        overheadBytes: p.gpu.runtimeOverheadBytes,
        budgetBytes: budget,
      },
      kvCacheTokens: kvCacheBytes > 0 ? Math.floor(kvCacheBytes / (layers * kvLayer)) : 0,
    };
  });

  const weightsFit = stages.every((s) => s.memoryPerGpu.kvCacheBytes >= 0);
  const kvCacheTokensPerReplica = Math.min(...stages.map((s) => s.kvCacheTokens));
  const maxConcurrentSequences = dp * Math.floor(kvCacheTokensPerReplica / workload.maxModelLen);
  const fits = weightsFit && maxConcurrentSequences >= workload.concurrency;
  const binding = weightsFit
    ? stages.reduce((a, b) => (b.kvCacheTokens < a.kvCacheTokens ? b : a))
    : stages.reduce((a, b) => (b.memoryPerGpu.kvCacheBytes < a.memoryPerGpu.kvCacheBytes ? b : a));
  return {
    tp,
    pp,
    dp,
    gpusUsed: tp * pp * dp,
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
