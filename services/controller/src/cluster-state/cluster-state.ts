/**
 * One view of the running cluster, folded from worker heartbeats and lifecycle
 * events. Pure: the caller feeds messages and a clock, and calls sweep() on a
 * timer to apply the loss rule.
 *
 * Ordering: lifecycle events may arrive long after they happened (a controller
 * catching up from JetStream). A message changes a stage's state only when its
 * sender timestamp is not older than the last one applied for that stage; both
 * timestamps come from the same worker's clock, so no cross-host clock skew.
 *
 * Loss: a stage that is starting, ready or draining and whose last heartbeat
 * was received (local clock) more than LOST_AFTER_INTERVALS of its own
 * heartbeat intervals ago is lost. A lost stage makes its replica unavailable
 * until a heartbeat arrives again. Stopped and failed stages are expected to
 * be silent and are never lost.
 *
 * Pods: a worker in Kubernetes names its pod (uid) in every message. Besides
 * the view by deployment/replica/stage (where the newest pod of a name wins),
 * the state keeps one record per pod uid, so the controller judges each pod by
 * its own messages only: a recreated pod is not blamed for its predecessor's
 * silence, and two namespaces' deployments of one name do not mix.
 */
import {
  type ClusterSnapshot,
  type EngineProbe,
  HEARTBEAT_INTERVAL_MS,
  type Heartbeat,
  type LayerRange,
  type LifecycleEvent,
  type LifecycleKind,
  LOST_AFTER_INTERVALS,
  MESSAGE_VERSION,
  type ReplicaView,
  type StageLoad,
  type StageRef,
  type StageState,
  type StageView,
} from "@strata/core";

interface StageRecord {
  state: StageState;
  lost: boolean;
  /** Sender time of the newest message applied to `state`. */
  stateAtMs: number;
  /** Local time of the last heartbeat, or of the first event when none came yet. */
  lastSeenAtMs: number;
  intervalMs: number;
  stageCount?: number;
  layers?: LayerRange;
  load?: StageLoad;
  endpoint?: string;
  lastHeartbeatAtMs?: number;
  lastEvent?: LifecycleKind;
  lastEventAtMs?: number;
  reason?: string;
  pod?: string;
  probe?: EngineProbe;
}

/** One pod's stage as its own messages describe it. */
export interface PodStage extends StageRef {
  readonly state: StageState;
  readonly lost: boolean;
  /** Local time of its last heartbeat; undefined when only events came. */
  readonly lastHeartbeatAtMs: number | undefined;
  readonly intervalMs: number;
  readonly probe: EngineProbe | undefined;
  readonly lastEvent: LifecycleKind | undefined;
  readonly lastEventAtMs: number | undefined;
  readonly reason: string | undefined;
}

interface PodRecord {
  readonly ref: StageRef;
  readonly record: StageRecord;
}

/** A pod not heard from this long is forgotten. */
const FORGET_POD_AFTER_MS = 10 * 60_000;

export type ClusterTransition =
  | { readonly type: "stage-lost"; readonly ref: StageRef }
  | { readonly type: "stage-recovered"; readonly ref: StageRef }
  | { readonly type: "replica-available"; readonly deployment: string; readonly replica: number }
  | { readonly type: "replica-unavailable"; readonly deployment: string; readonly replica: number };

export interface ClusterStateOptions {
  readonly now?: () => number;
  readonly lostAfterIntervals?: number;
}

const silentStates: ReadonlySet<StageState> = new Set(["stopped", "failed"]);

export class ClusterState {
  readonly #now: () => number;
  readonly #lostAfterIntervals: number;
  /** deployment → replica → stage → record */
  readonly #deployments = new Map<string, Map<number, Map<number, StageRecord>>>();
  readonly #available = new Set<string>();
  readonly #pods = new Map<string, PodRecord>();
  #lastHeartbeatAtMs: number | undefined;

  constructor(options: ClusterStateOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#lostAfterIntervals = options.lostAfterIntervals ?? LOST_AFTER_INTERVALS;
  }

  applyHeartbeat(hb: Heartbeat): ClusterTransition[] {
    const now = this.#now();
    this.#lastHeartbeatAtMs = now;
    if (hb.pod !== undefined) heartbeatInto(this.#podRecord(hb, hb.pod, now), hb, now);
    const record = this.#record(hb, now, hb.pod);
    const transitions: ClusterTransition[] = [];
    if (record.lost) {
      record.lost = false;
      transitions.push({ type: "stage-recovered", ref: refOf(hb) });
    }
    heartbeatInto(record, hb, now);
    return [...transitions, ...this.#replicaTransition(hb.deployment, hb.replica)];
  }

  applyEvent(event: LifecycleEvent): ClusterTransition[] {
    const now = this.#now();
    if (event.pod !== undefined) eventInto(this.#podRecord(event, event.pod, now), event);
    eventInto(this.#record(event, now, event.pod), event);
    return this.#replicaTransition(event.deployment, event.replica);
  }

  /** Local time of the newest heartbeat from any worker; undefined before the first. */
  get lastHeartbeatAtMs(): number | undefined {
    return this.#lastHeartbeatAtMs;
  }

  /** The stage a pod's worker reports, from that pod's own messages; undefined if it never spoke. */
  pod(uid: string): PodStage | undefined {
    const entry = this.#pods.get(uid);
    if (!entry) return undefined;
    const r = entry.record;
    return {
      ...entry.ref,
      state: r.state,
      lost: r.lost,
      lastHeartbeatAtMs: r.lastHeartbeatAtMs,
      intervalMs: r.intervalMs,
      probe: r.probe,
      lastEvent: r.lastEvent,
      lastEventAtMs: r.lastEventAtMs,
      reason: r.reason,
    };
  }

  /** Deployment names with a stage that is lost or whose engine probe is failing. */
  suspects(): Set<string> {
    const out = new Set<string>();
    for (const { ref, record } of this.#pods.values()) {
      if (record.lost || (record.probe !== undefined && !record.probe.ok)) out.add(ref.deployment);
    }
    for (const [deployment, replicas] of this.#deployments) {
      for (const stages of replicas.values()) {
        for (const r of stages.values()) if (r.lost || (r.probe && !r.probe.ok)) out.add(deployment);
      }
    }
    return out;
  }

  /** Applies the loss rule at the current time; call it about once per heartbeat interval. */
  sweep(): ClusterTransition[] {
    const now = this.#now();
    const transitions: ClusterTransition[] = [];
    for (const [deployment, replicas] of this.#deployments) {
      for (const [replica, stages] of replicas) {
        for (const [stage, record] of stages) {
          if (record.lost || silentStates.has(record.state)) continue;
          if (now - record.lastSeenAtMs > this.#lostAfterIntervals * record.intervalMs) {
            record.lost = true;
            transitions.push({ type: "stage-lost", ref: { deployment, replica, stage } });
          }
        }
        transitions.push(...this.#replicaTransition(deployment, replica));
      }
    }
    for (const [uid, { record }] of this.#pods) {
      if (now - record.lastSeenAtMs > FORGET_POD_AFTER_MS) this.#pods.delete(uid);
      else if (!record.lost && !silentStates.has(record.state)) {
        record.lost = now - record.lastSeenAtMs > this.#lostAfterIntervals * record.intervalMs;
      }
    }
    return transitions;
  }

  /** Forgets a replica group (e.g. after the controller deleted it). */
  forgetReplica(deployment: string, replica: number): void {
    this.#deployments.get(deployment)?.delete(replica);
    this.#available.delete(`${deployment}/${replica}`);
  }

  replica(deployment: string, replica: number): ReplicaView | undefined {
    const stages = this.#deployments.get(deployment)?.get(replica);
    return stages === undefined ? undefined : this.#replicaView(replica, stages);
  }

  /** Replicas that can serve right now: every stage present, ready and heard from. */
  availableReplicas(deployment?: string): Array<{ deployment: string; replica: ReplicaView }> {
    const out: Array<{ deployment: string; replica: ReplicaView }> = [];
    for (const [name, replicas] of this.#deployments) {
      if (deployment !== undefined && name !== deployment) continue;
      for (const [replica, stages] of replicas) {
        const view = this.#replicaView(replica, stages);
        if (view.available) out.push({ deployment: name, replica: view });
      }
    }
    return out;
  }

  snapshot(source: string, deployment?: string): ClusterSnapshot {
    const now = this.#now();
    const deployments = [...this.#deployments]
      .filter(([name]) => deployment === undefined || name === deployment)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, replicas]) => ({
        deployment: name,
        replicas: [...replicas]
          .sort(([a], [b]) => a - b)
          .map(([replica, stages]) => this.#replicaView(replica, stages)),
      }));
    return { v: MESSAGE_VERSION, source, atMs: now, deployments };
  }

  #podRecord(ref: StageRef, uid: string, now: number): StageRecord {
    let entry = this.#pods.get(uid);
    if (!entry) {
      entry = { ref: refOf(ref), record: freshRecord(now) };
      this.#pods.set(uid, entry);
    }
    return entry.record;
  }

  /** The record of a stage; a message from another pod than the record's starts a fresh one. */
  #record(ref: StageRef, now: number, pod?: string): StageRecord {
    let replicas = this.#deployments.get(ref.deployment);
    if (!replicas) {
      replicas = new Map();
      this.#deployments.set(ref.deployment, replicas);
    }
    let stages = replicas.get(ref.replica);
    if (!stages) {
      stages = new Map();
      replicas.set(ref.replica, stages);
    }
    let record = stages.get(ref.stage);
    if (!record || (pod !== undefined && record.pod !== undefined && record.pod !== pod)) {
      record = freshRecord(now);
      stages.set(ref.stage, record);
    }
    if (pod !== undefined) record.pod = pod;
    return record;
  }

  #replicaView(replica: number, stages: Map<number, StageRecord>): ReplicaView {
    const stageCount = Math.max(0, ...[...stages.values()].map((s) => s.stageCount ?? 0)) || undefined;
    const views: StageView[] = [...stages]
      .sort(([a], [b]) => a - b)
      .map(([stage, r]) => ({
        stage,
        state: r.state,
        lost: r.lost,
        ...(r.layers && { layers: r.layers }),
        ...(r.load && { load: r.load }),
        ...(r.endpoint && { endpoint: r.endpoint }),
        ...(r.lastHeartbeatAtMs !== undefined && { lastHeartbeatAtMs: r.lastHeartbeatAtMs }),
        ...(r.lastEvent && { lastEvent: r.lastEvent }),
        ...(r.lastEventAtMs !== undefined && { lastEventAtMs: r.lastEventAtMs }),
        ...(r.reason && { reason: r.reason }),
        ...(r.pod && { pod: r.pod }),
        ...(r.probe && { probe: r.probe }),
      }));
    const complete =
      stageCount !== undefined && views.filter((v) => v.stage < stageCount).length === stageCount;
    const available =
      complete && views.every((v) => v.stage >= (stageCount ?? 0) || (v.state === "ready" && !v.lost));
    return { replica, available, ...(stageCount !== undefined && { stageCount }), stages: views };
  }

  #replicaTransition(deployment: string, replica: number): ClusterTransition[] {
    const view = this.replica(deployment, replica);
    const id = `${deployment}/${replica}`;
    const was = this.#available.has(id);
    const is = view?.available ?? false;
    if (was === is) return [];
    if (is) this.#available.add(id);
    else this.#available.delete(id);
    return [{ type: is ? "replica-available" : "replica-unavailable", deployment, replica }];
  }
}

function freshRecord(now: number): StageRecord {
  return {
    state: "starting",
    lost: false,
    stateAtMs: 0,
    lastSeenAtMs: now,
    intervalMs: HEARTBEAT_INTERVAL_MS,
  };
}

function heartbeatInto(record: StageRecord, hb: Heartbeat, now: number): void {
  record.lost = false;
  record.lastSeenAtMs = now;
  record.lastHeartbeatAtMs = now;
  record.intervalMs = hb.intervalMs;
  record.stageCount = hb.stageCount;
  record.layers = hb.layers;
  record.endpoint = hb.endpoint;
  record.probe = hb.probe;
  record.load = {
    requestsRunning: hb.requestsRunning,
    requestsWaiting: hb.requestsWaiting,
    kvCacheUsage: hb.kvCacheUsage,
    tokensPerSecond: hb.tokensPerSecond,
    engineRestarts: hb.engineRestarts,
  };
  if (hb.sentAtMs >= record.stateAtMs) {
    record.state = hb.state;
    record.stateAtMs = hb.sentAtMs;
  }
}

function eventInto(record: StageRecord, event: LifecycleEvent): void {
  if (record.lastEventAtMs === undefined || event.atMs >= record.lastEventAtMs) {
    record.lastEvent = event.kind;
    record.lastEventAtMs = event.atMs;
    record.reason = event.reason;
  }
  if (event.layers) record.layers = event.layers;
  if (event.endpoint) record.endpoint = event.endpoint;
  if (event.atMs >= record.stateAtMs) {
    record.state = event.kind;
    record.stateAtMs = event.atMs;
  }
}

function refOf(ref: StageRef): StageRef {
  return { deployment: ref.deployment, replica: ref.replica, stage: ref.stage };
}
