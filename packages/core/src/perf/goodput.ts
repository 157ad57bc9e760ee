/**
 * Goodput: the most output tokens per second per GPU a layout sustains while every
 * request still meets the latency SLOs (time to first token and time per output
 * token). Both latencies grow with the number of requests in flight and so does
 * throughput, so the best operating point is the largest concurrency that still
 * meets both SLOs; it is found by doubling, then bisection.
 */
import { DoesNotFitError } from "../errors.js";
import { DEFAULT_EFFICIENCY, type EfficiencyFactors } from "./efficiency.js";
import { predictPerformance } from "./predict.js";
import type { PerfGpu, PerfLayout, PerfModelShape, PerfPrediction } from "./types.js";

export interface LatencySlo {
  readonly ttftMs: number;
  readonly tpotMs: number;
}

export interface GoodputPoint {
  /** False when even one request per replica misses an SLO; the point is then concurrency 1. */
  readonly meetsSlo: boolean;
  /** Requests in flight across all replicas at the operating point. */
  readonly concurrency: number;
  readonly prediction: PerfPrediction;
}

function meets(p: PerfPrediction, slo: LatencySlo): boolean {
  return p.ttftMs <= slo.ttftMs && p.tpotMs <= slo.tpotMs;
}

/**
 * The operating point of one layout under the SLOs, or undefined when the model
 * does not fit (weights, or one sequence of KV cache).
 */
export function goodputPoint(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  tokens: { readonly inputTokens: number; readonly outputTokens: number },
  slo: LatencySlo,
  eff: EfficiencyFactors = DEFAULT_EFFICIENCY,
): GoodputPoint | undefined {
  const at = (perReplica: number) =>
    predictPerformance(model, gpu, layout, { ...tokens, concurrency: perReplica * layout.replicas }, eff);
  let first: PerfPrediction;
  try {
    first = at(1);
  } catch (err: unknown) {
    if (err instanceof DoesNotFitError) return undefined;
    throw err;
  }
  if (!meets(first, slo)) return { meetsSlo: false, concurrency: layout.replicas, prediction: first };

  // Case 1: the batch saturates (KV cache or engine cap) before an SLO breaks: take the full batch.
  // Case 2: an SLO breaks at some concurrency: bisect between the last good and first bad.
  let good = 1;
  let goodPrediction = first;
  let bad: number | undefined;
  while (bad === undefined) {
    const next = good * 2;
    const p = at(next);
    if (p.batchPerReplica < next) {
      const full = at(p.batchPerReplica);
      if (meets(full, slo))
        return { meetsSlo: true, concurrency: p.batchPerReplica * layout.replicas, prediction: full };
      bad = p.batchPerReplica;
    } else if (meets(p, slo)) {
      good = next;
      goodPrediction = p;
    } else bad = next;
  }
  while (bad - good > 1) {
    const mid = Math.floor((good + bad) / 2);
    const p = at(mid);
    if (meets(p, slo)) {
      good = mid;
      goodPrediction = p;
    } else bad = mid;
  }
  return { meetsSlo: true, concurrency: good * layout.replicas, prediction: goodPrediction };
}
