import { BYTES_PER_PARAM, WEIGHT_DTYPES, type WeightDtype } from "../model/model-spec.js";
import { type Cluster, describeCluster, formatPool, MAX_NODES, type NodePool } from "./cluster.js";
import type { Candidate } from "./evaluate.js";
import { budgetBytes } from "./memory.js";
import { BUILTIN_OBJECTIVES, layoutName } from "./objectives.js";
import { type PlanOptions, type PlanRequest, planContext, planDeployment } from "./search.js";

export interface DoesNotFitOptions extends PlanOptions {
  /** Phrase cluster changes as `--pool` specs instead of `--nodes` (when the user gave pools). */
  readonly poolFlags?: boolean;
}

/**
 * One line saying why nothing fits — the weights against the budget, or the KV
 * cache against max-model-len × concurrency — and the smallest change that
 * fits: a smaller dtype, more nodes, or a shorter max-model-len.
 */
export function whyItDoesNotFit(
  original: PlanRequest,
  closest: Candidate,
  options: DoesNotFitOptions = {},
): string {
  // Whether a layout fits does not depend on the objective; one the caller did not
  // pass here (e.g. a performance-model objective) only names the layouts, so the default serves.
  const known = original.objective === undefined || BUILTIN_OBJECTIVES.has(original.objective);
  const request =
    known || options.objectives?.has(original.objective ?? "")
      ? original
      : { ...original, objective: undefined };
  const ctx = planContext(request);
  const { model, weights, workload, cluster } = ctx;
  const changes: string[] = [];
  let problem: string;
  if (closest.shortfall === "kv-cache") {
    const need = workload.maxModelLen * workload.concurrency;
    problem =
      `the weights fit, but the KV cache holds ${closest.kvCacheTokens.toLocaleString("en-US")} tokens, ` +
      `fewer than --max-model-len × --concurrency = ${need.toLocaleString("en-US")}`;
    const len = largestFitting(
      1,
      workload.maxModelLen - 1,
      (n) => ({
        ...request,
        workload: { ...workload, maxModelLen: n },
      }),
      options,
    );
    if (len) changes.push(`--max-model-len ${len.value} (${layoutName(len.layout)})`);
  } else {
    const all = cluster.pools.reduce((n, p) => n + p.count * p.gpusPerNode * budgetBytes(p.gpu, workload), 0);
    const precision = ctx.dtype ?? "their GGUF types";
    problem =
      `${model.name} weights in ${precision} take ${gb(weights.totalBytes)}, but ${describeCluster(cluster)} ` +
      `give a budget of ${gb(all)} (--gpu-memory-utilization ${workload.gpuMemoryUtilization}), ` +
      "before activations, runtime overhead and KV cache";
    const smaller = smallerDtypes(request.dtype).find((d) => fits({ ...request, dtype: d }, options));
    if (smaller) {
      const c = firstFit({ ...request, dtype: smaller }, options);
      changes.push(`--dtype ${smaller}${c ? ` (${layoutName(c)})` : ""}`);
    }
  }
  const grown = smallestGrowth(request, options);
  if (grown) changes.push(grown);
  const fix =
    changes.length > 0 ? `smallest change that fits: ${changes.join(", or ")}` : "no nearby change fits";
  return `does not fit: ${problem}; ${fix}`;
}

/**
 * Precisions below the current one, largest first. mxfp4 is left out: it is a
 * format a checkpoint ships in (gpt-oss), not one an engine quantizes to.
 */
function smallerDtypes(current: WeightDtype | undefined): WeightDtype[] {
  if (current === undefined) return [];
  return WEIGHT_DTYPES.filter((d) => d !== "mxfp4" && BYTES_PER_PARAM[d] < BYTES_PER_PARAM[current]).sort(
    (a, b) => BYTES_PER_PARAM[b] - BYTES_PER_PARAM[a],
  );
}

function firstFit(request: PlanRequest, options: PlanOptions): Candidate | undefined {
  const best = planDeployment(request, options).ranked[0];
  return best?.fits ? best : undefined;
}

function fits(request: PlanRequest, options: PlanOptions): boolean {
  return firstFit(request, options) !== undefined;
}

/** The fewest nodes to add to one pool so that a layout fits (fit only grows with nodes, so bisect). */
function smallestGrowth(request: PlanRequest, options: DoesNotFitOptions): string | undefined {
  let best: { added: number; pools: NodePool[]; layout: Candidate } | undefined;
  request.cluster.pools.forEach((pool, i) => {
    const withCount = (count: number): Cluster => ({
      pools: request.cluster.pools.map((p, j) => (j === i ? { ...p, count } : p)),
    });
    const found = largestFittingInverse(
      pool.count + 1,
      MAX_NODES,
      (count) => ({
        ...request,
        cluster: withCount(count),
      }),
      options,
    );
    if (!found) return;
    const added = (found.value - pool.count) * pool.gpusPerNode;
    if (!best || added < best.added)
      best = { added, pools: [...withCount(found.value).pools], layout: found.layout };
  });
  if (!best) return undefined;
  const { pools, layout } = best;
  const flag =
    options.poolFlags || pools.length > 1
      ? pools.map((p) => `--pool ${formatPool(p)}`).join(" ")
      : `--nodes ${pools[0]?.count}`;
  return `${flag} (${layoutName(layout)})`;
}

interface Found {
  readonly value: number;
  readonly layout: Candidate;
}

/** The largest n in [lo, hi] whose request fits, assuming fit shrinks as n grows. */
function largestFitting(
  lo: number,
  hi: number,
  make: (n: number) => PlanRequest,
  options: PlanOptions,
): Found | undefined {
  if (hi < lo || !fits(make(lo), options)) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(make(mid), options)) lo = mid;
    else hi = mid - 1;
  }
  const layout = firstFit(make(lo), options);
  return layout ? { value: lo, layout } : undefined;
}

/** The smallest n in [lo, hi] whose request fits, assuming fit grows with n (doubling, then bisection). */
function largestFittingInverse(
  lo: number,
  hi: number,
  make: (n: number) => PlanRequest,
  options: PlanOptions,
): Found | undefined {
  let upper = lo;
  while (!fits(make(upper), options)) {
    if (upper >= hi) return undefined;
    lo = upper + 1;
    upper = Math.min(hi, upper * 2);
  }
  while (lo < upper) {
    const mid = Math.floor((lo + upper) / 2);
    if (fits(make(mid), options)) upper = mid;
    else lo = mid + 1;
  }
  const layout = firstFit(make(upper), options);
  return layout ? { value: upper, layout } : undefined;
}

/** Decimal units, as GPU datasheets give memory: GB, or TB from a thousand GB. */
function gb(bytes: number): string {
  return bytes >= 1e12 ? `${(bytes / 1e12).toFixed(2)} TB` : `${(bytes / 1e9).toFixed(1)} GB`;
}
