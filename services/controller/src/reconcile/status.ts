import {
  CONDITION_TYPES,
  type Condition,
  type GroupStatus,
  type ModelDeploymentStatus,
  type PlanStatus,
  REASONS,
} from "@strata/core";
import { canonicalJson } from "../groups/revision.js";

export interface ConditionInput {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: string;
  readonly message: string;
}

/** Merges new conditions into old ones, keeping lastTransitionTime when the status did not change. */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  nowIso: string,
  generation: number | undefined,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return {
      ...c,
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : nowIso,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  });
}

export interface Summary {
  readonly replicas: number;
  readonly maxUnavailable: number;
  readonly groups: readonly GroupStatus[];
  readonly rolling: boolean;
  /** Why groups wait for capacity or timed out, one line per group. */
  readonly unscheduled: readonly { replica: number; reason: string; message: string }[];
  /** Groups that failed this reconcile, with why (reason: an event reason; GroupFailed when absent). */
  readonly failed: readonly { replica: number; message: string; reason?: string }[];
}

/** The five conditions, from what this reconcile saw and did. */
export function conditionsFor(plan: PlanStatus, s: Summary): ConditionInput[] {
  const wanted = s.groups.filter((g) => g.replica < s.replicas);
  const ready = wanted.filter((g) => g.phase === "Available").length;
  const bound = wanted.filter((g) => g.phase === "Running" || g.phase === "Available").length;
  const minAvailable = Math.max(0, s.replicas - s.maxUnavailable);
  const planned: ConditionInput = {
    type: CONDITION_TYPES.planned,
    status: "True",
    reason: REASONS.planned,
    message: plan.summary ?? `tp=${plan.tp} pp=${plan.pp}: ${plan.gpusPerGroup} GPUs per group`,
  };
  const firstUnscheduled = s.unscheduled[0];
  const scheduled: ConditionInput =
    bound >= s.replicas
      ? {
          type: CONDITION_TYPES.scheduled,
          status: "True",
          reason: REASONS.allGroupsScheduled,
          message: `${bound} of ${s.replicas} groups bound`,
        }
      : {
          type: CONDITION_TYPES.scheduled,
          status: "False",
          reason: firstUnscheduled?.reason ?? REASONS.groupCreated,
          message:
            `${bound} of ${s.replicas} groups bound` +
            (s.unscheduled.length > 0
              ? `; ${s.unscheduled.map((u) => `group ${u.replica}: ${u.message}`).join("; ")}`
              : ""),
        };
  const available: ConditionInput =
    ready >= minAvailable && (s.replicas === 0 || ready > 0)
      ? {
          type: CONDITION_TYPES.available,
          status: "True",
          reason: REASONS.allGroupsAvailable,
          message: `${ready} of ${s.replicas} groups available`,
        }
      : {
          type: CONDITION_TYPES.available,
          status: "False",
          reason: REASONS.groupsUnavailable,
          message: `${ready} of ${s.replicas} groups available, need ${Math.max(1, minAvailable)}`,
        };
  const progressing: ConditionInput = s.rolling
    ? {
        type: CONDITION_TYPES.progressing,
        status: "True",
        reason: REASONS.rollingUpdate,
        message: "replacing groups with the new revision",
      }
    : ready < s.replicas || s.groups.some((g) => g.replica >= s.replicas)
      ? {
          type: CONDITION_TYPES.progressing,
          status: "True",
          reason: REASONS.scaling,
          message: `${ready} of ${s.replicas} groups available`,
        }
      : {
          type: CONDITION_TYPES.progressing,
          status: "False",
          reason: REASONS.rolloutComplete,
          message: "every group runs the current revision",
        };
  const unhealthy = wanted.filter((g) => g.phase !== "Available");
  const degraded: ConditionInput =
    s.failed.length > 0
      ? {
          type: CONDITION_TYPES.degraded,
          status: "True",
          reason: s.failed[0]?.reason ?? REASONS.groupFailed,
          message: s.failed.map((f) => `group ${f.replica}: ${f.message}`).join("; "),
        }
      : unhealthy.length > 0 && !s.rolling
        ? {
            type: CONDITION_TYPES.degraded,
            status: "True",
            reason: REASONS.groupsUnavailable,
            message: unhealthy
              .map((g) => `group ${g.replica}: ${g.phase}${g.message ? ` (${g.message})` : ""}`)
              .join("; "),
          }
        : {
            type: CONDITION_TYPES.degraded,
            status: "False",
            reason: REASONS.healthy,
            message: "no group is failing",
          };
  return [planned, scheduled, available, progressing, degraded];
}

export function planFailedConditions(reason: string, message: string): ConditionInput[] {
  return [{ type: CONDITION_TYPES.planned, status: "False", reason, message }];
}

/** Status without timestamps, to tell whether a write is needed. */
export function statusFingerprint(status: ModelDeploymentStatus | undefined): string {
  if (!status) return "";
  const { conditions, ...rest } = status;
  return canonicalJson({
    ...rest,
    conditions: (conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c),
  });
}
