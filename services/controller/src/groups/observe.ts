import type { V1Pod } from "@kubernetes/client-node";
import { LABELS } from "@strata/core";

/** What the controller sees of one group in the pod cache. */
export interface GroupView {
  readonly replica: number;
  readonly pods: readonly V1Pod[];
  /** Revision of the group's pods; `undefined` when they disagree or there are none. */
  readonly revision: string | undefined;
  readonly bound: number;
  readonly ready: number;
  readonly terminating: number;
  /** Pods that ended (Failed or Succeeded): a worker must never exit. */
  readonly ended: number;
  /** Pods that ever started a container. */
  readonly started: number;
  /** Creation time of the oldest pod, ms since the epoch. */
  readonly createdAtMs: number | undefined;
}

export function replicaOf(pod: V1Pod): number | undefined {
  const value = Number(pod.metadata?.labels?.[LABELS.replica]);
  return Number.isInteger(value) && value >= 0 ? value : undefined;
}

export function isPodReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === "Running" &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

/** Groups the pods of one deployment by replica index. */
export function viewGroups(pods: readonly V1Pod[]): Map<number, GroupView> {
  const byReplica = new Map<number, V1Pod[]>();
  for (const pod of pods) {
    const replica = replicaOf(pod);
    if (replica === undefined) continue;
    const list = byReplica.get(replica) ?? [];
    list.push(pod);
    byReplica.set(replica, list);
  }
  const views = new Map<number, GroupView>();
  for (const [replica, list] of byReplica) views.set(replica, viewGroup(replica, list));
  return views;
}

export function viewGroup(replica: number, pods: readonly V1Pod[]): GroupView {
  const revisions = new Set(pods.map((p) => p.metadata?.labels?.[LABELS.revision]));
  const created = pods
    .map((p) => toMs(p.metadata?.creationTimestamp))
    .filter((t): t is number => t !== undefined);
  return {
    replica,
    pods,
    revision: revisions.size === 1 ? [...revisions][0] : undefined,
    bound: pods.filter((p) => !!p.spec?.nodeName).length,
    ready: pods.filter(isPodReady).length,
    terminating: pods.filter((p) => !!p.metadata?.deletionTimestamp).length,
    ended: pods.filter((p) => p.status?.phase === "Failed" || p.status?.phase === "Succeeded").length,
    started: pods.filter(
      (p) => p.status?.phase === "Running" || (p.status?.containerStatuses ?? []).length > 0,
    ).length,
    createdAtMs: created.length > 0 ? Math.min(...created) : undefined,
  };
}

function toMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** What to do with one group this reconcile. */
export type GroupAction =
  | { readonly kind: "create" }
  | { readonly kind: "createMissing" }
  | { readonly kind: "wait"; readonly reason: "terminating" | "backoff" | "binding" }
  | { readonly kind: "recreate"; readonly why: string }
  | { readonly kind: "gangTimeout"; readonly why: string }
  | { readonly kind: "running"; readonly available: boolean };

export interface GangSettings {
  readonly stages: number;
  readonly nowMs: number;
  readonly gangTimeoutMs: number;
  /** Until when a group that timed out waits before it is tried again. */
  readonly retryAfterMs: number | undefined;
}

/**
 * The gang and failure decisions for one group, from its pods alone. A group
 * holds GPUs all-or-nothing and fails as a whole.
 */
export function decideGroup(view: GroupView | undefined, s: GangSettings): GroupAction {
  const pods = view?.pods.length ?? 0;
  // Case 1: no pods. Create the group unless a timed-out attempt is backing off.
  if (!view || pods === 0) {
    if (s.retryAfterMs !== undefined && s.nowMs < s.retryAfterMs) return { kind: "wait", reason: "backoff" };
    return { kind: "create" };
  }
  // Case 2: every pod is terminating. Wait until they are gone; fixed pod names cannot be reused before.
  if (view.terminating === pods) return { kind: "wait", reason: "terminating" };
  // Case 3: some pods are terminating, others not: a member is going away, so the whole group goes.
  if (view.terminating > 0)
    return { kind: "recreate", why: `${view.terminating} of ${pods} pods are terminating` };
  // Case 4: a pod ended. Workers serve until told to stop, so an ended pod is a failure.
  if (view.ended > 0) {
    const detail = endedDetail(view.pods);
    return {
      kind: "recreate",
      why: `${view.ended} of ${s.stages} pods failed or exited${detail ? ` (${detail})` : ""}`,
    };
  }
  // Case 5: pods are missing from a group that had started: a member disappeared.
  if (pods < s.stages && view.started > 0) {
    return { kind: "recreate", why: `${s.stages - pods} of ${s.stages} pods disappeared` };
  }
  // Case 6: pods are missing from a group that never started: an earlier create was cut short.
  if (pods < s.stages) return { kind: "createMissing" };
  // Case 7: not every pod is bound after the gang timeout: give the GPUs back and retry later.
  if (view.bound < pods) {
    const waited = s.nowMs - (view.createdAtMs ?? s.nowMs);
    if (waited >= s.gangTimeoutMs) {
      return {
        kind: "gangTimeout",
        why: `${view.bound} of ${pods} pods bound after ${Math.round(waited / 1000)}s (gang timeout ${Math.round(s.gangTimeoutMs / 1000)}s)`,
      };
    }
    return { kind: "wait", reason: "binding" };
  }
  // Case 8: every pod is bound; available once every pod is ready.
  return { kind: "running", available: view.ready === s.stages };
}

/**
 * Why the first ended pod's worker ended, from its container's termination
 * message (the last line the worker wrote, as the pod asks for on error):
 * "stage 1 on node gpu-17 exited with code 2: STRATA_MODEL_PATH: … does not exist on this node".
 */
export function endedDetail(pods: readonly V1Pod[]): string | undefined {
  for (const pod of pods) {
    if (pod.status?.phase !== "Failed" && pod.status?.phase !== "Succeeded") continue;
    const terminated = pod.status.containerStatuses?.[0]?.state?.terminated;
    if (!terminated) continue;
    const lastLine = (terminated.message ?? "")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
      .at(-1);
    const stage = pod.metadata?.labels?.[LABELS.stage];
    const node = pod.spec?.nodeName ? ` on node ${pod.spec.nodeName}` : "";
    return `stage ${stage ?? "?"}${node} exited with code ${terminated.exitCode}${lastLine ? `: ${lastLine}` : ""}`;
  }
  return undefined;
}

/** Exponential backoff after the n-th timed-out attempt (n ≥ 1), capped. */
export function gangBackoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}
