/**
 * What a group's workers say over NATS, reduced to what the reconciler
 * decides on: whether any worker of the group's current pods has spoken,
 * whether its head serves, whether a stage is hung, and the stage states
 * and newest lifecycle event for the status. Pure: the caller passes the
 * cluster state's views and the pods from the Kubernetes cache.
 */
import type { V1Pod } from "@kubernetes/client-node";
import {
  type GroupLastTransition,
  type GroupStageStatus,
  HUNG_AFTER_PROBE_FAILURES,
  LABELS,
  type StageState,
} from "@strata/core";
import type { PodStage } from "../cluster-state/cluster-state.js";

/** Why a stage counts as hung. */
export const HUNG_KINDS = { probe: "probe", silence: "silence" } as const;
export type HungKind = (typeof HUNG_KINDS)[keyof typeof HUNG_KINDS];

export interface HungStage {
  readonly stage: number;
  readonly kind: HungKind;
  readonly message: string;
}

export interface GroupSignals {
  /** A worker of one of the group's current pods has spoken over NATS. */
  readonly observed: boolean;
  /** The head's own newest state is `ready`; meaningful only when observed. */
  readonly serving: boolean;
  /** The head's newest state, when it has spoken. */
  readonly headState: StageState | undefined;
  /** The head pod's uid, for requests addressed to it. */
  readonly headPod: string | undefined;
  readonly hung: HungStage | undefined;
  readonly stages: readonly GroupStageStatus[];
  readonly lastTransition: GroupLastTransition | undefined;
}

export const NO_SIGNALS: GroupSignals = {
  observed: false,
  serving: false,
  headState: undefined,
  headPod: undefined,
  hung: undefined,
  stages: [],
  lastTransition: undefined,
};

export interface SignalInputs {
  /** A pod's stage from its own messages (by uid). */
  readonly pod: (uid: string) => PodStage | undefined;
  /** Silence on NATS means something now (the controller is connected and workers are heard). */
  readonly trustsSilence: boolean;
}

const silentStates: ReadonlySet<StageState> = new Set(["stopped", "failed"]);

/**
 * Case 1: no pod of the group has spoken: not observed (no workers on NATS,
 *   e.g. a cluster without them, or pods still starting): pods alone decide.
 * Case 2: a stage's engine failed HUNG_AFTER_PROBE_FAILURES probes in a row: hung (probe).
 * Case 3: a stage's heartbeats stopped for 3 intervals while its pod is Running,
 *   and silence is trusted (no NATS outage): hung (silence).
 */
export function groupSignals(pods: readonly V1Pod[], inputs: SignalInputs): GroupSignals {
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  const stages: GroupStageStatus[] = [];
  let observed = false;
  let hung: HungStage | undefined;
  let head: PodStage | undefined;
  let headPod: string | undefined;
  let lastTransition: GroupLastTransition | undefined;
  let lastEventAtMs = -1;
  for (const pod of [...live].sort((a, b) => stageOf(a) - stageOf(b))) {
    const stage = stageOf(pod);
    const uid = pod.metadata?.uid;
    if (stage === 0) headPod = uid;
    const seen = uid === undefined ? undefined : inputs.pod(uid);
    if (!seen) continue;
    observed = true;
    if (stage === 0) head = seen;
    let state: GroupStageStatus["state"] = seen.state;
    const probe = seen.probe;
    if (probe && !probe.ok && probe.failures >= HUNG_AFTER_PROBE_FAILURES && !silentStates.has(seen.state)) {
      state = "hung";
      hung ??= {
        stage,
        kind: HUNG_KINDS.probe,
        message: `stage ${stage} is hung: its engine failed ${probe.failures} ${probe.kind} probes in a row (${probe.detail ?? "no answer"})`,
      };
    } else if (
      seen.lost &&
      inputs.trustsSilence &&
      pod.status?.phase === "Running" &&
      !silentStates.has(seen.state)
    ) {
      state = "silent";
      hung ??= {
        stage,
        kind: HUNG_KINDS.silence,
        message: `stage ${stage} is hung: no heartbeat for more than 3 intervals while its pod is Running`,
      };
    }
    stages.push({ stage, state });
    if (
      seen.lastEvent !== undefined &&
      seen.lastEventAtMs !== undefined &&
      seen.lastEventAtMs > lastEventAtMs
    ) {
      lastEventAtMs = seen.lastEventAtMs;
      lastTransition = {
        stage,
        kind: seen.lastEvent,
        at: new Date(seen.lastEventAtMs).toISOString(),
        ...(seen.reason ? { reason: seen.reason } : {}),
      };
    }
  }
  return {
    observed,
    serving: head?.state === "ready",
    headState: head?.state,
    headPod,
    hung,
    stages,
    lastTransition,
  };
}

function stageOf(pod: V1Pod): number {
  const n = Number(pod.metadata?.labels?.[LABELS.stage]);
  return Number.isInteger(n) ? n : -1;
}
