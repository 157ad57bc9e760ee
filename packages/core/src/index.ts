export type {
  ClusterSnapshot,
  ClusterStatusRequest,
  ControlCommand,
  ControlReply,
  ControlRequest,
  Decoded,
  DeploymentView,
  Heartbeat,
  LifecycleEvent,
  LifecycleKind,
  ReplicaView,
  StageLoad,
  StageRef,
  StageState,
  StageStatus,
  StageView,
} from "./control/index.js";
export {
  CONTROL_COMMANDS,
  checkStageRef,
  clusterSnapshotSchema,
  clusterStatusRequestSchema,
  controlReplySchema,
  controlRequestSchema,
  decodeMessage,
  deploymentViewSchema,
  encodeMessage,
  HEARTBEAT_INTERVAL_MS,
  heartbeatSchema,
  LIFECYCLE_CONSUMERS,
  LIFECYCLE_KINDS,
  LIFECYCLE_STREAM,
  LOST_AFTER_INTERVALS,
  lifecycleEventSchema,
  MESSAGE_VERSION,
  NATS_HEADERS,
  replicaViewSchema,
  STAGE_STATES,
  SUBJECT_ROOT,
  stageLoadSchema,
  stageRefOf,
  stageStateSchema,
  stageStatusSchema,
  stageViewSchema,
  subjectKind,
  subjects,
} from "./control/index.js";
export type {
  CatalogModelShape,
  Condition,
  ConditionType,
  GroupPhase,
  GroupStatus,
  ModelDeployment,
  ModelDeploymentSpec,
  ModelDeploymentSpecInput,
  ModelDeploymentStatus,
  PlanStatus,
  Reason,
  StagePlan,
} from "./crd/index.js";
export {
  ANNOTATIONS,
  CONDITION_TYPES,
  conditionSchema,
  DEFAULT_GPU_RESOURCE,
  DEFAULT_TOPOLOGY_KEY,
  GROUP_PHASES,
  groupStatusSchema,
  LABELS,
  MANAGED_BY_VALUE,
  MAX_DEPLOYMENT_NAME_LENGTH,
  MODEL_DEPLOYMENT_API_VERSION,
  MODEL_DEPLOYMENT_KIND,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_SHORT_NAMES,
  MODEL_DEPLOYMENT_SINGULAR,
  MODEL_DEPLOYMENT_VERSION,
  modelDeploymentCrd,
  modelDeploymentOpenApiSchema,
  modelDeploymentSpecSchema,
  modelDeploymentStatusSchema,
  POD_GROUP_LABEL,
  planStatusSchema,
  REASONS,
  STRATA_API_GROUP,
  specRules,
  TUNNEL_TOKEN_SECRET_KEY,
  toStructuralSchema,
  WORKER_ROLES,
} from "./crd/index.js";
export {
  DEFAULT_PLANNING_ENGINE,
  ENGINES,
  type Engine,
  engineSchema,
  isDeployableEngine,
  isPlanningEngine,
  PLANNING_ENGINES,
  type PlanningEngine,
} from "./engines.js";
export { DoesNotFitError, InputError } from "./errors.js";
export {
  findGpu,
  GPU_CATALOG,
  type GpuFamily,
  type GpuFigure,
  type GpuSpec,
  type GpuVendor,
} from "./hardware/gpu-catalog.js";
export { findModel, MODEL_CATALOG } from "./model/catalog.js";
export {
  GGML_TYPE,
  GGML_TYPES,
  type GgmlTypeInfo,
  type GgmlTypeName,
  ggmlTensorBytes,
  ggmlTypeInfo,
} from "./model/ggml-types.js";
export {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE,
  GGUF_VERSION,
  type GgufHeader,
  type GgufTensorInfo,
  GgufTruncatedError,
  type GgufValue,
  type ParseGgufOptions,
  parseGguf,
} from "./model/gguf.js";
export { type GgufSpecOptions, modelSpecFromGguf } from "./model/gguf-spec.js";
export {
  encodeGgufHeader,
  type GgufEntry,
  type GgufScalar,
  type GgufTensorToWrite,
  type GgufValueTypeId,
} from "./model/gguf-write.js";
export { type HfConfigOptions, modelSpecFromHfConfig } from "./model/hf-config.js";
export {
  activeParams,
  attentionParams,
  BYTES_PER_PARAM,
  type DtypeWeights,
  type GgufWeights,
  isMoeLayer,
  kvBytesPerTokenPerLayer,
  kvElementsPerTokenPerLayer,
  layerParams,
  layerParamsAt,
  type MlaShape,
  type ModelShape,
  type ModelSpec,
  type ModelWeights,
  type MoeShape,
  modelShape,
  moeLayerCount,
  routedExpertParams,
  totalParams,
  validateModelShape,
  WEIGHT_DTYPES,
  type WeightBreakdown,
  type WeightDtype,
  weightBytes,
} from "./model/model-spec.js";
export { DEPLOYMENT_NAME_PATTERN, deploymentNameSchema, isDeploymentName } from "./names.js";
export { DEFAULT_EFFICIENCY, type EfficiencyFactors } from "./perf/efficiency.js";
export {
  CELL_FACTORS,
  type CellFactorName,
  type CellFactors,
  describeResolved,
  FACTOR_SCOPES,
  type FactorCell,
  type FactorScope,
  type FactorTable,
  type FactorTarget,
  factorChain,
  type ResolvedEfficiency,
  resolveEfficiency,
} from "./perf/efficiency-table.js";
export { type GoodputPoint, goodputPoint, type LatencySlo } from "./perf/goodput.js";
export {
  GOODPUT_OBJECTIVE_NAME,
  type GoodputObjectiveOptions,
  goodputObjective,
} from "./perf/goodput-objective.js";
export { perfModelShape } from "./perf/model-shape.js";
export { kvCapacityTokensPerReplica, predictPerformance } from "./perf/predict.js";
export { expectedDistinctExperts } from "./perf/roofline.js";
export { SHIPPED_FACTORS } from "./perf/shipped-factors.js";
export type {
  DecodeStageBreakdown,
  PerfBottleneck,
  PerfDtype,
  PerfGpu,
  PerfLayout,
  PerfModelShape,
  PerfMoe,
  PerfPrediction,
  PerfWorkload,
} from "./perf/types.js";
export {
  type AssignLayersInput,
  assignLayers,
  equalStageRanges,
  headCostInLayers,
} from "./planner/assign-layers.js";
export {
  type Cluster,
  type ClusterNode,
  clusterNodes,
  describeCluster,
  formatPool,
  MAX_GPUS_PER_NODE,
  MAX_NODES,
  makePool,
  type NodePool,
  parsePool,
  totalGpus,
} from "./planner/cluster.js";
export { type DoesNotFitOptions, whyItDoesNotFit } from "./planner/does-not-fit.js";
export {
  type Candidate,
  type CandidateStage,
  evaluateLayout,
  type PlanContext,
  stageWidth,
} from "./planner/evaluate.js";
export {
  checkStageRanges,
  formatLayerRange,
  type LayerRange,
  layerCount,
  layerRangeSchema,
  parseLayerRange,
} from "./planner/layer-range.js";
export {
  activationBytesPerGpu,
  CPU_BATCH_TOKENS,
  DEFAULT_CONCURRENCY,
  DEFAULT_GPU_MEMORY_UTILIZATION,
  DEFAULT_MAX_MODEL_LEN,
  GPU_BATCH_TOKENS,
  KV_CACHE_BYTES_PER_ELEMENT,
  kvBytesPerTokenPerLayerPerGpu,
  kvHeadsPerGpu,
  type MemoryPerGpu,
  type Workload,
} from "./planner/memory.js";
export {
  BUILTIN_OBJECTIVES,
  DEFAULT_OBJECTIVE,
  kvTokensPerGpu,
  LATENCY_OBJECTIVE,
  layoutName,
  type PlanObjective,
  THROUGHPUT_OBJECTIVE,
} from "./planner/objectives.js";
export type { Plan, PlanCandidate, PlanStage } from "./planner/plan.js";
export {
  type PlanOptions,
  type PlanRequest,
  type PlanResult,
  planContext,
  planDeployment,
} from "./planner/search.js";
export { type ParallelLayout, vllmParallelArgs } from "./planner/vllm-args.js";
export {
  kvCacheFromBytes,
  VLLM_CUDA_GRAPH_RESERVE_BYTES,
  VLLM_KV_BLOCK_TOKENS,
  type VllmGpuMemory,
  type VllmKvCache,
  type VllmKvShape,
  vllmCpuKvCache,
  vllmGpuKvCache,
  vllmRequestedBytes,
} from "./planner/vllm-memory.js";
export {
  DEFAULT_VLLM_STEP_TIMEOUT_SECONDS,
  DEFAULT_WORKER_BIND_HOST,
  parseWorkerEnv,
  TUNNEL_TLS,
  VLLM_DEVICES,
  type VllmDevice,
  type VllmWorkerSettings,
  WORKER_ENV,
  WORKER_PORTS,
  type WorkerConfig,
  type WorkerConfigInput,
  type WorkerEnvName,
  type WorkerRole,
  workerEnv,
} from "./worker/config.js";
export { cpuBindPerNode } from "./worker/cpu-bind.js";
