export type { Decoded } from "./codec.js";
export { decodeMessage, encodeMessage } from "./codec.js";
export type {
  ClusterSnapshot,
  ClusterStatusRequest,
  ControlCommand,
  ControlReply,
  ControlRequest,
  DeploymentView,
  EngineProbe,
  Heartbeat,
  LifecycleEvent,
  LifecycleKind,
  ReplicaView,
  StageLoad,
  StageState,
  StageStatus,
  StageView,
} from "./messages.js";
export {
  CONTROL_COMMANDS,
  clusterSnapshotSchema,
  clusterStatusRequestSchema,
  controlReplySchema,
  controlRequestSchema,
  deploymentViewSchema,
  ENGINE_PROBE_KINDS,
  engineProbeSchema,
  heartbeatSchema,
  LIFECYCLE_KINDS,
  lifecycleEventSchema,
  MESSAGE_VERSION,
  replicaViewSchema,
  STAGE_STATES,
  stageLoadSchema,
  stageStateSchema,
  stageStatusSchema,
  stageViewSchema,
} from "./messages.js";
export {
  HEARTBEAT_INTERVAL_MS,
  HUNG_AFTER_PROBE_FAILURES,
  LIFECYCLE_CONSUMERS,
  LIFECYCLE_STREAM,
  LOST_AFTER_INTERVALS,
  NATS_HEADERS,
} from "./stream.js";
export type { StageRef } from "./subjects.js";
export {
  checkStageRef,
  SUBJECT_ROOT,
  stageRefOf,
  subjectKind,
  subjects,
} from "./subjects.js";
