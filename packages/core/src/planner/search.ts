import type { PlanningEngine } from "../engines.js";
import { InputError } from "../errors.js";
import type { ModelSpec, WeightDtype } from "../model/model-spec.js";
import { weightBytes } from "../model/model-spec.js";
import { type Cluster, clusterNodes, formatPool, totalGpus } from "./cluster.js";
import { type Candidate, evaluateLayout, type PlanContext } from "./evaluate.js";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_GPU_MEMORY_UTILIZATION,
  DEFAULT_MAX_MODEL_LEN,
  type MemoryPerGpu,
  type Workload,
} from "./memory.js";
import { BUILTIN_OBJECTIVES, DEFAULT_OBJECTIVE, layoutName, type PlanObjective } from "./objectives.js";
import type { Plan, PlanStage } from "./plan.js";
import { vllmParallelArgs } from "./vllm-args.js";

export interface PlanRequest {
  readonly model: ModelSpec;
  /** Required for safetensors-style models; must be absent for GGUF models. */
  readonly dtype?: WeightDtype;
  readonly cluster: Cluster;
  readonly workload?: Partial<Workload>;
  /** A key of the objectives map; default "throughput". */
  readonly objective?: string;
  /**
   * Whether layouts may spread experts with expert parallelism (vLLM's
   * `--enable-expert-parallel`); default true. Engines without it (llama.cpp)
   * pass false; GGUF models never use it.
   */
  readonly expertParallel?: boolean;
  /** The engine that will run the plan: "vllm" counts KV tokens in vLLM's whole blocks. */
  readonly engine?: PlanningEngine;
}

export interface PlanOptions {
  /** Extra objectives by name (they may replace built-ins), e.g. a performance-model "goodput". */
  readonly objectives?: ReadonlyMap<string, PlanObjective>;
}

export interface PlanResult {
  readonly plan: Plan;
  /** Every evaluated layout: fitting ones in objective order, then the rest. */
  readonly ranked: readonly Candidate[];
}

/**
 * Chooses tensor, pipeline and data parallelism for a model on a cluster.
 * Pure and deterministic. When nothing fits, `plan.fits` is false and the plan
 * shows the layout that comes closest; `whyItDoesNotFit` explains it.
 *
 * Search space: tp divides the attention heads, fits in a node and is
 * compatible with the KV heads (one divides the other, as vLLM requires);
 * GGUF models use tp=1 since llama.cpp splits them by layers. For a mixture of
 * experts, ep is 1 (experts split by tp) or a multiple tp·a of tp that fits in
 * a node and divides the expert count (experts spread whole over ep GPUs,
 * attention on a data-parallel ranks of tp; one pipeline stage, as vLLM
 * documents it). pp runs from 1 to the number of stage-sized groups the
 * cluster has; dp fills the rest.
 * @throws InputError naming a bad workload field or unknown objective
 */
export function planDeployment(request: PlanRequest, options: PlanOptions = {}): PlanResult {
  const objectives = new Map([...BUILTIN_OBJECTIVES, ...(options.objectives ?? [])]);
  const objectiveName = request.objective ?? DEFAULT_OBJECTIVE;
  const objective = objectives.get(objectiveName);
  if (!objective) {
    throw new InputError(
      "--objective",
      `unknown objective "${objectiveName}"; known: ${[...objectives.keys()].join(", ")}`,
    );
  }
  const ctx = planContext(request);
  const candidates: Candidate[] = [];
  for (const tp of tensorParallelSizes(ctx)) {
    for (const ep of expertParallelSizes(ctx, tp, request.expertParallel ?? true)) {
      // vLLM documents expert parallelism with data and tensor parallelism, not with
      // pipeline stages, so an expert-parallel replica is one stage.
      const maxPp = ep > 1 ? 1 : ctx.model.numLayers;
      for (let pp = 1; pp <= maxPp; pp++) {
        const c = evaluateLayout(ctx, tp, pp, ep);
        if (!c) break;
        candidates.push(c);
      }
    }
  }
  const fitting = candidates.filter((c) => c.fits).sort((a, b) => objective.compare(a, b));
  const rest = candidates.filter((c) => !c.fits).sort(closestFirst);
  const ranked = [...fitting, ...rest];
  const chosen = ranked[0];
  if (!chosen) throw new InputError("--gpu", "no GPU group can host a pipeline stage");
  const why = chosen.fits
    ? `${objective.name}: ${objective.explain(chosen, fitting[1])}`
    : "nothing fits; shown is the layout that comes closest";
  return { plan: toPlan(chosen, objective.name, why, fitting.slice(1, 3)), ranked };
}

/** Validates the request and resolves defaults into the context every layout is evaluated in. */
export function planContext(request: PlanRequest): PlanContext {
  const { model, cluster } = request;
  const w = request.workload ?? {};
  const workload: Workload = {
    // Unset, the default shrinks to a model whose context is shorter.
    maxModelLen:
      w.maxModelLen ?? Math.min(DEFAULT_MAX_MODEL_LEN, model.maxPositionEmbeddings ?? DEFAULT_MAX_MODEL_LEN),
    concurrency: w.concurrency ?? DEFAULT_CONCURRENCY,
    gpuMemoryUtilization: w.gpuMemoryUtilization ?? DEFAULT_GPU_MEMORY_UTILIZATION,
  };
  if (!Number.isSafeInteger(workload.maxModelLen) || workload.maxModelLen <= 0) {
    throw new InputError("--max-model-len", `must be a positive integer, got ${workload.maxModelLen}`);
  }
  if (model.maxPositionEmbeddings !== undefined && workload.maxModelLen > model.maxPositionEmbeddings) {
    throw new InputError(
      "--max-model-len",
      `${workload.maxModelLen} exceeds ${model.name}'s context length of ${model.maxPositionEmbeddings} tokens`,
    );
  }
  if (!Number.isSafeInteger(workload.concurrency) || workload.concurrency <= 0) {
    throw new InputError("--concurrency", `must be a positive integer, got ${workload.concurrency}`);
  }
  const u = workload.gpuMemoryUtilization;
  if (!(Number.isFinite(u) && u > 0 && u <= 1)) {
    throw new InputError("--gpu-memory-utilization", `must be a number in (0, 1], got ${u}`);
  }
  if (cluster.pools.length === 0) throw new InputError("--pool", "the cluster has no node pools");
  if (model.weights.kind === "dtype" && request.dtype === undefined) {
    throw new InputError("--dtype", "is required for this model (bf16, fp16, fp8, int8 or int4)");
  }
  const dtype = model.weights.kind === "gguf" ? undefined : request.dtype;
  if (model.weights.kind === "gguf" && request.dtype !== undefined) {
    throw new InputError("--dtype", "conflicts with a GGUF model, whose tensor types are fixed by the file");
  }
  if (dtype === "mxfp4" && !model.moe) {
    throw new InputError("--dtype", `mxfp4 quantizes expert weights, and ${model.name} has no experts`);
  }
  return {
    model,
    dtype,
    weights: weightBytes(model, dtype),
    workload,
    cluster,
    nodes: clusterNodes(cluster),
    ...(request.engine === undefined ? {} : { engine: request.engine }),
  };
}

function tensorParallelSizes(ctx: PlanContext): number[] {
  if (ctx.model.weights.kind === "gguf") return [1];
  const largestNode = Math.max(...ctx.cluster.pools.map((p) => p.gpusPerNode));
  const { numHeads, numKvHeads } = ctx.model;
  const sizes: number[] = [];
  for (let tp = 1; tp <= Math.min(largestNode, numHeads); tp++) {
    if (numHeads % tp === 0 && (numKvHeads % tp === 0 || tp % numKvHeads === 0)) sizes.push(tp);
  }
  return sizes;
}

/**
 * Expert-parallel sizes for one tp: 1 (experts split by tensor parallelism, vLLM's
 * default), then tp·a for a ≥ 2 attention data-parallel ranks while the group fits
 * in the largest node and divides the expert count. ep = tp (a = 1) is left out:
 * it holds the same bytes per GPU as ep = 1 and differs only in communication.
 */
function expertParallelSizes(ctx: PlanContext, tp: number, allowed: boolean): number[] {
  const moe = ctx.model.moe;
  if (!moe || !allowed || ctx.model.weights.kind === "gguf") return [1];
  const largestNode = Math.max(...ctx.cluster.pools.map((p) => p.gpusPerNode));
  const sizes = [1];
  for (let ep = 2 * tp; ep <= largestNode; ep += tp) {
    if (moe.numExperts % ep === 0) sizes.push(ep);
  }
  return sizes;
}

/** Among layouts that do not fit: KV-cache shortfalls before weight shortfalls, then the most room. */
function closestFirst(a: Candidate, b: Candidate): number {
  const rank = (c: Candidate) => (c.shortfall === "kv-cache" ? 0 : 1);
  return (
    rank(a) - rank(b) ||
    b.maxConcurrentSequences - a.maxConcurrentSequences ||
    b.binding.memoryPerGpu.kvCacheBytes - a.binding.memoryPerGpu.kvCacheBytes ||
    b.tp - a.tp ||
    a.pp - b.pp ||
    a.ep - b.ep
  );
}

function toPlan(c: Candidate, objective: string, why: string, next: readonly Candidate[]): Plan {
  const ctx = c.context;
  const stages: PlanStage[] = c.stages.map((s) => ({
    index: s.index,
    layers: s.layers,
    nodes: s.nodes,
    gpus: s.gpus,
    gpu: s.gpu.name,
    memoryPerGpu: s.memoryPerGpu,
    kvCacheTokens: s.kvCacheTokens,
  }));
  const memoryPerGpu: MemoryPerGpu = c.binding.memoryPerGpu;
  return {
    version: 2,
    model: ctx.model.name,
    dtype: ctx.dtype ?? `gguf:${ctx.model.weights.kind === "gguf" ? ctx.model.weights.mainType : "?"}`,
    objective,
    cluster: ctx.cluster.pools.map(formatPool),
    fits: c.fits,
    tp: c.tp,
    pp: c.pp,
    dp: c.dp,
    ep: c.ep,
    gpusUsed: c.gpusUsed,
    stages,
    memoryPerGpu,
    weightsBytes: ctx.weights.totalBytes,
    kvCacheTokens: c.kvCacheTokens,
    kvCacheTokensPerReplica: c.kvCacheTokensPerReplica,
    maxModelLen: ctx.workload.maxModelLen,
    maxConcurrentSequences: c.maxConcurrentSequences,
    why,
    candidates: next.map((n) => ({
      tp: n.tp,
      pp: n.pp,
      dp: n.dp,
      ep: n.ep,
      gpusUsed: n.gpusUsed,
      kvCacheTokens: n.kvCacheTokens,
      maxConcurrentSequences: n.maxConcurrentSequences,
    })),
    notes: planNotes(c),
  };
}

function planNotes(c: Candidate): string[] {
  const { model, cluster, dtype } = c.context;
  const notes: string[] = [];
  if (c.tp > model.numKvHeads && !model.mla) {
    notes.push(
      `tp=${c.tp} exceeds the ${model.numKvHeads} KV heads: each KV head is replicated on ${c.tp / model.numKvHeads} GPUs`,
    );
  }
  const unused = totalGpus(cluster) - c.gpusUsed;
  if (unused > 0)
    notes.push(
      `${unused} GPU${unused === 1 ? "" : "s"} unused: too few for another replica of ${layoutName(c)}`,
    );
  if (model.weights.kind === "gguf")
    notes.push("GGUF weights: llama.cpp splits the model by layers, so tp=1");
  if (dtype === "fp8" && c.stages.some((s) => s.gpu.fp8DenseTflops === undefined && s.gpu.kind === "gpu")) {
    notes.push(
      "some GPUs lack FP8 tensor cores: fp8 weights run weight-only (dequantized to bf16 for compute)",
    );
  }
  const kinds = new Set(c.stages.map((s) => s.gpu.name));
  if (kinds.size > 1)
    notes.push("mixed GPU kinds: layers split by each stage's memory, then its memory bandwidth");
  if (model.tiedEmbeddings && c.pp > 1)
    notes.push("tied embeddings: the last stage holds its own copy of the embedding");
  notes.push(...moeNotes(c));
  return notes;
}

function moeNotes(c: Candidate): string[] {
  const { model } = c.context;
  const notes: string[] = [];
  if (model.mla && c.tp > 1) {
    notes.push(
      `MLA: the KV cache is a ${model.mla.kvLoraRank + model.mla.qkRopeHeadDim}-element latent per token and layer, kept whole on each of the tp=${c.tp} GPUs`,
    );
  }
  const moe = model.moe;
  if (!moe) return notes;
  if (c.ep > 1) {
    notes.push(
      `expert parallelism: ${moe.numExperts / c.ep} of ${moe.numExperts} experts per GPU over ep=${c.ep}; ` +
        `attention runs as ${c.ep / c.tp} data-parallel ranks of tp=${c.tp} ` +
        `(vLLM: ${vllmParallelArgs({ tp: c.tp, pp: c.pp, ep: c.ep }).join(" ")})`,
    );
  } else if (c.tp > 1) {
    notes.push(`experts split by tensor parallelism: each of the ${moe.numExperts} experts over tp=${c.tp}`);
  } else {
    notes.push(`no expert parallelism: each GPU holds all ${moe.numExperts} experts of its layers`);
  }
  return notes;
}
