import type { ReplicaState } from "./replicas.js";

/** Tuning for replica choice; defaults are in config.ts. */
export interface RoutingPolicy {
  /** A head whose queue (in flight from us + waiting at the head) reaches this is full. */
  readonly maxQueuePerReplica: number;
  /** Heartbeats older than this are ignored (the head may have recovered or died). */
  readonly loadStaleAfterMs: number;
}

export type RouteDecision =
  | { readonly kind: "replica"; readonly replica: ReplicaState }
  | { readonly kind: "unknown-model" }
  | { readonly kind: "exhausted" }
  | { readonly kind: "overloaded" }
  | { readonly kind: "draining" };

/** The queue depth a head would have if we sent it one more request. */
function queueDepth(r: ReplicaState, nowMs: number, policy: RoutingPolicy): number {
  const fresh = r.load !== undefined && nowMs - r.load.atMs <= policy.loadStaleAfterMs;
  return r.outstanding + (fresh && r.load ? r.load.waiting : 0);
}

/**
 * Score: lower is better. Least outstanding requests, weighted by the head's
 * heartbeat: requests waiting there count like ours, and a fuller KV cache
 * scales the score up (a head at 100% KV use counts double), because new
 * requests there will queue for cache rather than compute.
 */
export function replicaScore(r: ReplicaState, nowMs: number, policy: RoutingPolicy): number {
  const fresh = r.load !== undefined && nowMs - r.load.atMs <= policy.loadStaleAfterMs;
  const kv = fresh && r.load ? Math.min(1, Math.max(0, r.load.kvUsage)) : 0;
  return (queueDepth(r, nowMs, policy) + 1) * (1 + kv);
}

/**
 * Chooses a head for one attempt of a request.
 *
 * Case 1: no head serves `model` → unknown-model (404).
 * Case 2: every head of it is draining, stopping or restarting its engine → draining (503).
 * Case 3: every head serving it was already tried for this request → exhausted (502).
 * Case 4: every untried head is full (queue ≥ maxQueuePerReplica) → overloaded (429).
 * Case 5: otherwise the lowest-score head among those not recently ejected for
 *         a refused connection; if all are ejected, the lowest-score ejected one
 *         (better a retry than a refusal). Ties go to the lowest `tieBreak` draw.
 */
export function chooseReplica(
  candidates: readonly ReplicaState[],
  tried: ReadonlySet<string>,
  nowMs: number,
  policy: RoutingPolicy,
  tieBreak: () => number = Math.random,
): RouteDecision {
  if (candidates.length === 0) return { kind: "unknown-model" };
  const serving = candidates.filter((r) => r.serving);
  if (serving.length === 0) return tried.size === 0 ? { kind: "draining" } : { kind: "exhausted" };
  const untried = serving.filter((r) => !tried.has(r.endpoint.id));
  if (untried.length === 0) return { kind: "exhausted" };
  const open = untried.filter((r) => queueDepth(r, nowMs, policy) < policy.maxQueuePerReplica);
  if (open.length === 0) return { kind: "overloaded" };
  const healthy = open.filter((r) => r.ejectedUntilMs <= nowMs);
  const pool = healthy.length > 0 ? healthy : open;
  let best: ReplicaState | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  let bestDraw = 0;
  for (const r of pool) {
    const score = replicaScore(r, nowMs, policy);
    if (score < bestScore) {
      best = r;
      bestScore = score;
      bestDraw = tieBreak();
    } else if (score === bestScore) {
      const draw = tieBreak();
      if (draw < bestDraw) {
        best = r;
        bestDraw = draw;
      }
    }
  }
  // pool is non-empty, so best is set.
  return best ? { kind: "replica", replica: best } : { kind: "exhausted" };
}
