import type { Candidate } from "./evaluate.js";

/**
 * How the planner ranks layouts that fit. Built-ins: `throughput` and `latency`;
 * callers may pass more (e.g. a performance-model `goodput`) in
 * `PlanOptions.objectives` without touching the search.
 */
export interface PlanObjective {
  readonly name: string;
  /** One line for `--help` and plan output. */
  readonly description: string;
  /** Negative when `a` is better than `b`; both fit. Must be a strict, deterministic order. */
  compare(a: Candidate, b: Candidate): number;
  /** Why `best` wins, in one sentence; `next` is the runner-up, if any. */
  explain(best: Candidate, next: Candidate | undefined): string;
}

/** KV-cache tokens per GPU used: how many concurrent sequences each GPU buys. */
export function kvTokensPerGpu(c: Candidate): number {
  return c.kvCacheTokens / c.gpusUsed;
}

/**
 * Stable final tie-breakers: larger tp (fewer pipeline hops), then fewer stages,
 * then more replicas, then no expert parallelism (the same bytes with fewer
 * all-to-all exchanges).
 */
function tieBreak(a: Candidate, b: Candidate): number {
  return b.tp - a.tp || a.pp - b.pp || b.dp - a.dp || a.ep - b.ep;
}

export const THROUGHPUT_OBJECTIVE: PlanObjective = {
  name: "throughput",
  description: "most KV-cache tokens per GPU, i.e. the most concurrent sequences",
  compare: (a, b) => kvTokensPerGpu(b) - kvTokensPerGpu(a) || tieBreak(a, b),
  explain: (best, next) => {
    return next
      ? `most KV-cache tokens per GPU: ${fmt(kvTokensPerGpu(best))}, against ${fmt(kvTokensPerGpu(next))} for ${layoutName(next)}`
      : `the only layout that fits, with ${fmt(kvTokensPerGpu(best))} KV-cache tokens per GPU`;
  },
};

export const LATENCY_OBJECTIVE: PlanObjective = {
  name: "latency",
  description: "fewest pipeline stages, then the largest tensor-parallel group that fits",
  compare: (a, b) =>
    a.pp - b.pp || b.tp - a.tp || kvTokensPerGpu(b) - kvTokensPerGpu(a) || b.dp - a.dp || a.ep - b.ep,
  explain: (best, next) => {
    const mine = `${best.pp} pipeline stage${best.pp === 1 ? "" : "s"} with tp=${best.tp}`;
    return next
      ? `fewest pipeline stages and the largest tensor parallelism that fit: ${mine}; next is ${layoutName(next)}`
      : `the only layout that fits: ${mine}`;
  },
};

export const BUILTIN_OBJECTIVES: ReadonlyMap<string, PlanObjective> = new Map([
  [THROUGHPUT_OBJECTIVE.name, THROUGHPUT_OBJECTIVE],
  [LATENCY_OBJECTIVE.name, LATENCY_OBJECTIVE],
]);

export const DEFAULT_OBJECTIVE = THROUGHPUT_OBJECTIVE.name;

export function layoutName(c: { tp: number; pp: number; dp: number; ep?: number }): string {
  const ep = c.ep ?? 1;
  return `tp=${c.tp} pp=${c.pp} dp=${c.dp}${ep > 1 ? ` ep=${ep}` : ""}`;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
