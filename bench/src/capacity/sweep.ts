/**
 * Sweeps plans for a fleet: every tensor × pipeline split that uses all the GPUs
 * (replicas fill the rest), for a mixture of experts also every expert-parallel group
 * of one stage (ep = tp × attention data-parallel ranks, as vLLM runs it) and, for
 * each, concurrency from 1 per replica upward until
 * the KV cache or the engine caps the batch. Marks the Pareto frontier of throughput
 * per GPU against tokens per second per user.
 */
import {
  DEFAULT_PLANNING_ENGINE,
  DoesNotFitError,
  type EfficiencyFactors,
  type GpuSpec,
  type PerfDtype,
  type PerfPrediction,
  type PlanningEngine,
  predictPerformance,
  resolveShippedEfficiency,
} from "@strata/core";
import type { NamedModel } from "./inputs.js";

export interface Fleet {
  readonly gpu: GpuSpec;
  readonly count: number;
  /** Price of one GPU-hour in USD; cost columns are left out without it. */
  readonly gpuHourUsd?: number | undefined;
}

export interface SweepOptions {
  readonly model: NamedModel;
  readonly fleets: readonly Fleet[];
  readonly gpusPerNode: number;
  readonly dtype: PerfDtype;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Largest per-replica concurrency tried (powers of two up to it). */
  readonly maxConcurrencyPerReplica: number;
  /** Picks each fleet's factors from the shipped table (default vllm)… */
  readonly engine?: PlanningEngine | undefined;
  /** …unless the factors are given outright, for every fleet. */
  readonly efficiency?: EfficiencyFactors | undefined;
}

export interface SweepPoint {
  readonly gpu: string;
  readonly gpus: number;
  readonly tp: number;
  readonly pp: number;
  /** Expert parallelism (1: none). */
  readonly ep: number;
  readonly replicas: number;
  /** Requests in flight across all replicas. */
  readonly concurrency: number;
  readonly batchPerReplica: number;
  readonly tokensPerSPerGpu: number;
  readonly tokensPerSPerUser: number;
  readonly outputTokensPerS: number;
  readonly ttftMs: number;
  readonly tpotMs: number;
  readonly usdPerMillionTokens: number | undefined;
  readonly bottleneck: string;
  pareto: boolean;
}

function powersOfTwoUpTo(limit: number): number[] {
  const out: number[] = [];
  for (let n = 1; n <= limit; n *= 2) out.push(n);
  return out;
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

interface Split {
  readonly tp: number;
  readonly pp: number;
  readonly ep: number;
}

/**
 * Tensor-parallel degrees stay inside a node and divide the heads, as engines require.
 * Expert-parallel groups (mixtures of experts) are one stage inside a node whose size
 * divides the expert count, as the planner plans them.
 */
function splits(model: NamedModel, count: number, gpusPerNode: number): Split[] {
  const out: Split[] = [];
  for (const tp of powersOfTwoUpTo(gpusPerNode)) {
    if (count % tp !== 0 || model.numHeads % tp !== 0) continue;
    for (const pp of divisors(count / tp)) if (pp <= model.numLayers) out.push({ tp, pp, ep: 1 });
    const experts = model.moe?.numExperts ?? 0;
    for (let ep = 2 * tp; experts > 0 && ep <= gpusPerNode; ep *= 2) {
      if (experts % ep === 0 && count % ep === 0) out.push({ tp, pp: 1, ep });
    }
  }
  return out;
}

function pointOf(fleet: Fleet, split: Split, replicas: number, p: PerfPrediction): SweepPoint {
  const { tp, pp, ep } = split;
  const usdPerMillionTokens =
    fleet.gpuHourUsd === undefined
      ? undefined
      : (fleet.count * fleet.gpuHourUsd * 1e6) / (p.outputTokensPerS * 3600);
  return {
    gpu: fleet.gpu.name,
    gpus: fleet.count,
    tp,
    pp,
    ep,
    replicas,
    concurrency: p.batchPerReplica * replicas,
    batchPerReplica: p.batchPerReplica,
    tokensPerSPerGpu: p.outputTokensPerSPerGpu,
    tokensPerSPerUser: p.outputTokensPerSPerUser,
    outputTokensPerS: p.outputTokensPerS,
    ttftMs: p.ttftMs,
    tpotMs: p.tpotMs,
    usdPerMillionTokens,
    bottleneck: p.bottleneck,
    pareto: false,
  };
}

function sweepFleet(options: SweepOptions, fleet: Fleet): SweepPoint[] {
  const points: SweepPoint[] = [];
  const efficiency =
    options.efficiency ??
    resolveShippedEfficiency({
      vendor: fleet.gpu.vendor,
      family: fleet.gpu.family,
      engine: options.engine ?? DEFAULT_PLANNING_ENGINE,
    }).factors;
  for (const split of splits(options.model, fleet.count, options.gpusPerNode)) {
    const { tp, pp, ep } = split;
    const replicas = fleet.count / ((ep > 1 ? ep : tp) * pp);
    const layout = { tp, pp, ep, replicas, gpusPerNode: options.gpusPerNode, weightDtype: options.dtype };
    const predict = (concurrency: number) =>
      predictPerformance(
        options.model,
        fleet.gpu,
        layout,
        { inputTokens: options.inputTokens, outputTokens: options.outputTokens, concurrency },
        efficiency,
      );
    for (const perReplica of powersOfTwoUpTo(options.maxConcurrencyPerReplica)) {
      let p: PerfPrediction;
      try {
        p = predict(perReplica * replicas);
      } catch (err: unknown) {
        if (err instanceof DoesNotFitError) break;
        throw err;
      }
      // Past the KV cache or engine cap more requests only queue; record the full batch instead.
      const saturated = p.batchPerReplica < perReplica;
      if (saturated) p = predict(p.batchPerReplica * replicas);
      points.push(pointOf(fleet, split, replicas, p));
      if (saturated) break;
    }
  }
  markPareto(points);
  return points;
}

/** A point is on the frontier when no other point is at least as good on both axes and better on one. */
export function markPareto(points: SweepPoint[]): void {
  for (const p of points) {
    p.pareto = !points.some(
      (q) =>
        q !== p &&
        q.tokensPerSPerGpu >= p.tokensPerSPerGpu &&
        q.tokensPerSPerUser >= p.tokensPerSPerUser &&
        (q.tokensPerSPerGpu > p.tokensPerSPerGpu || q.tokensPerSPerUser > p.tokensPerSPerUser),
    );
  }
}

/** All points of all fleets; the Pareto frontier is computed per fleet. */
export function sweepPlans(options: SweepOptions): SweepPoint[] {
  return options.fleets.flatMap((fleet) => sweepFleet(options, fleet));
}
