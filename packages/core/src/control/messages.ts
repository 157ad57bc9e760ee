/**
 * Payload schemas for every NATS message. Publishers encode through these
 * schemas and consumers decode through them, so a message that does not match
 * is rejected at the edge (see codec.ts) and never reaches domain code.
 * Every payload carries `v`, the schema version; a breaking change bumps it.
 */
import { z } from "zod";
import { engineSchema } from "../engines.js";
import { deploymentNameSchema } from "../names.js";
import { layerRangeSchema } from "../planner/layer-range.js";

export const MESSAGE_VERSION = 1;

const version = z.literal(MESSAGE_VERSION);
const count = z.number().int().nonnegative();
const epochMs = z.number().int().nonnegative();

/** Where a stage is in its life. Heartbeats carry the current one; lifecycle events mark transitions. */
export const STAGE_STATES = ["starting", "ready", "draining", "failed", "stopped"] as const;
export const stageStateSchema = z.enum(STAGE_STATES);
export type StageState = z.infer<typeof stageStateSchema>;

const stageIdentity = {
  deployment: deploymentNameSchema,
  replica: count,
  stage: count,
};

/** The load figures a worker reports; also the body of a `status` reply. */
export const stageLoadSchema = z.object({
  requestsRunning: count,
  requestsWaiting: count,
  /** Fraction of the KV cache in use, 0..1 (0 where the stage holds no KV cache). */
  kvCacheUsage: z.number().min(0).max(1),
  /** Generated tokens per second over the last heartbeat interval. */
  tokensPerSecond: z.number().nonnegative(),
  engineRestarts: count,
});
export type StageLoad = z.infer<typeof stageLoadSchema>;

/**
 * The Kubernetes pod a worker runs in (its uid, from the downward API), so the
 * controller tells a recreated pod's messages from its predecessor's. Absent
 * outside Kubernetes.
 */
const podUidSchema = z.string().min(1).max(128);

/**
 * How the worker checked its engine: `canary` (the head) sends a 1-token
 * completion through the whole pipeline at a slower rate; `process` (a stage,
 * whose engine serves one connection at a time and is held by the head) checks
 * that the engine process is alive and not stopped.
 */
export const ENGINE_PROBE_KINDS = ["canary", "process"] as const;

/** The worker's own probe of its engine, carried by every heartbeat once the engine is up. */
export const engineProbeSchema = z.object({
  kind: z.enum(ENGINE_PROBE_KINDS),
  ok: z.boolean(),
  /** Probes failed in a row, 0 when the last one passed; the controller calls HUNG_AFTER_PROBE_FAILURES a hang. */
  failures: count,
  /** How often the probe runs. */
  intervalMs: z.number().int().positive(),
  /** Why the last probe failed. */
  detail: z.string().max(512).optional(),
});
export type EngineProbe = z.infer<typeof engineProbeSchema>;

/** Published by every worker every `intervalMs` on `subjects.heartbeat(ref)` (core NATS). */
export const heartbeatSchema = z.object({
  v: version,
  ...stageIdentity,
  /** Stages in the replica, so a consumer knows a replica is complete. */
  stageCount: z.number().int().positive(),
  engine: engineSchema,
  state: stageStateSchema,
  layers: layerRangeSchema,
  ...stageLoadSchema.shape,
  /** The OpenAI endpoint of the head (stage 0); absent on other stages. */
  endpoint: z.string().url().optional(),
  /** Tunnel address that earlier stages dial; absent on the head. */
  tunnelAddress: z.string().optional(),
  pod: podUidSchema.optional(),
  /** The engine's health from the worker's probe; absent until the engine first came up. */
  probe: engineProbeSchema.optional(),
  intervalMs: z.number().int().positive(),
  /** Increases by one per heartbeat of this process; a reset means the worker restarted. */
  seq: count,
  startedAtMs: epochMs,
  sentAtMs: epochMs,
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export const LIFECYCLE_KINDS = STAGE_STATES;
export const lifecycleKindSchema = stageStateSchema;
export type LifecycleKind = StageState;

/** Published on `subjects.lifecycle(ref)` into LIFECYCLE_STREAM; never lost (outbox + JetStream). */
export const lifecycleEventSchema = z.object({
  v: version,
  /** Unique per event; JetStream de-duplicates on it (Nats-Msg-Id), so re-sending is safe. */
  id: z.string().min(1).max(128),
  ...stageIdentity,
  kind: lifecycleKindSchema,
  atMs: epochMs,
  /** Why, for failed/draining/stopped: a short human-readable line. */
  reason: z.string().max(1024).optional(),
  layers: layerRangeSchema.optional(),
  endpoint: z.string().url().optional(),
  pod: podUidSchema.optional(),
});
export type LifecycleEvent = z.infer<typeof lifecycleEventSchema>;

export const CONTROL_COMMANDS = ["drain", "shutdown", "status"] as const;

/**
 * Addressed to one pod: a worker of another pod (an earlier one of the same
 * name, or a same-named deployment in another namespace) does not answer.
 */
const toPod = { pod: podUidSchema.optional() };

/** Sent with request-reply on `subjects.control(ref)`. */
export const controlRequestSchema = z.discriminatedUnion("command", [
  /** Finish in-flight requests, accept no new ones. Replies at once; progress shows in heartbeats. */
  z.object({ v: version, command: z.literal("drain"), ...toPod }),
  /** Drain, then stop the worker; in-flight requests get up to `graceMs`. */
  z.object({ v: version, command: z.literal("shutdown"), graceMs: count.optional(), ...toPod }),
  z.object({ v: version, command: z.literal("status"), ...toPod }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;
export type ControlCommand = ControlRequest["command"];

export const stageStatusSchema = z.object({
  ...stageIdentity,
  stageCount: z.number().int().positive(),
  state: stageStateSchema,
  layers: layerRangeSchema,
  ...stageLoadSchema.shape,
  /** True once a draining stage has no request left in flight. */
  drained: z.boolean(),
  startedAtMs: epochMs,
  pod: podUidSchema.optional(),
});
export type StageStatus = z.infer<typeof stageStatusSchema>;

export const controlReplySchema = z.discriminatedUnion("ok", [
  z.object({ v: version, ok: z.literal(true), command: z.enum(CONTROL_COMMANDS), status: stageStatusSchema }),
  z.object({ v: version, ok: z.literal(false), error: z.string() }),
]);
export type ControlReply = z.infer<typeof controlReplySchema>;

/** One stage as the cluster state sees it: last heartbeat plus what the consumer derived. */
export const stageViewSchema = z.object({
  stage: count,
  state: stageStateSchema,
  /** Heartbeats stopped for LOST_AFTER_INTERVALS intervals. */
  lost: z.boolean(),
  layers: layerRangeSchema.optional(),
  load: stageLoadSchema.optional(),
  endpoint: z.string().optional(),
  lastHeartbeatAtMs: epochMs.optional(),
  lastEvent: lifecycleKindSchema.optional(),
  lastEventAtMs: epochMs.optional(),
  reason: z.string().optional(),
  pod: z.string().optional(),
  probe: engineProbeSchema.optional(),
});
export type StageView = z.infer<typeof stageViewSchema>;

export const replicaViewSchema = z.object({
  replica: count,
  /** Every stage is present, ready and not lost. */
  available: z.boolean(),
  stageCount: z.number().int().positive().optional(),
  stages: z.array(stageViewSchema),
});
export type ReplicaView = z.infer<typeof replicaViewSchema>;

export const deploymentViewSchema = z.object({
  deployment: deploymentNameSchema,
  replicas: z.array(replicaViewSchema),
});
export type DeploymentView = z.infer<typeof deploymentViewSchema>;

/** The reply to `subjects.clusterStatus()`. */
export const clusterSnapshotSchema = z.object({
  v: version,
  /** Who answered: "controller" in Kubernetes, "supervisor" in local mode, "heartbeats" when collected. */
  source: z.string(),
  atMs: epochMs,
  deployments: z.array(deploymentViewSchema),
});
export type ClusterSnapshot = z.infer<typeof clusterSnapshotSchema>;

export const clusterStatusRequestSchema = z.object({
  v: version,
  deployment: deploymentNameSchema.optional(),
});
export type ClusterStatusRequest = z.infer<typeof clusterStatusRequestSchema>;
