export type { ConditionType, Reason } from "./constants.js";
export {
  ANNOTATIONS,
  CONDITION_TYPES,
  DEFAULT_GPU_RESOURCE,
  DEFAULT_TOPOLOGY_KEY,
  LABELS,
  MANAGED_BY_VALUE,
  MODEL_DEPLOYMENT_API_VERSION,
  MODEL_DEPLOYMENT_KIND,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_SHORT_NAMES,
  MODEL_DEPLOYMENT_SINGULAR,
  MODEL_DEPLOYMENT_VERSION,
  POD_GROUP_LABEL,
  REASONS,
  STRATA_API_GROUP,
  STRATA_IMAGE,
  stagePodName,
  TUNNEL_TOKEN_SECRET_KEY,
  WORKER_ROLES,
} from "./constants.js";
export type { CatalogModelShape } from "./crd-manifest.js";
export {
  modelDeploymentCrd,
  modelDeploymentOpenApiSchema,
  specRules,
  toStructuralSchema,
} from "./crd-manifest.js";
export { quantityBytes } from "./quantity.js";
export type {
  Condition,
  GroupLastTransition,
  GroupPhase,
  GroupStageStatus,
  GroupStatus,
  ModelDeployment,
  ModelDeploymentSpec,
  ModelDeploymentSpecInput,
  ModelDeploymentStatus,
  PlanStatus,
  StagePlan,
} from "./schema.js";
export {
  conditionSchema,
  DEFAULT_DRAIN_TIMEOUT_SECONDS,
  GROUP_PHASES,
  groupStatusSchema,
  MAX_DEPLOYMENT_NAME_LENGTH,
  modelDeploymentSpecSchema,
  modelDeploymentStatusSchema,
  planStatusSchema,
} from "./schema.js";
