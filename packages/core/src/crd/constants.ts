/**
 * Names that other components, users and dashboards rely on: the API group of
 * `ModelDeployment`, the labels and annotations the controller puts on what it
 * creates, condition types, condition reasons, event reasons and the worker
 * environment contract. Change them here only; everything else imports them.
 */

export const STRATA_API_GROUP = "strata.dev";
export const MODEL_DEPLOYMENT_VERSION = "v1alpha1";
export const MODEL_DEPLOYMENT_API_VERSION = `${STRATA_API_GROUP}/${MODEL_DEPLOYMENT_VERSION}`;
export const MODEL_DEPLOYMENT_KIND = "ModelDeployment";
export const MODEL_DEPLOYMENT_PLURAL = "modeldeployments";
export const MODEL_DEPLOYMENT_SINGULAR = "modeldeployment";
export const MODEL_DEPLOYMENT_SHORT_NAMES = ["md"] as const;

/** Labels on every pod, Service, Secret and PodGroup the controller creates. */
export const LABELS = {
  deployment: "strata.dev/deployment",
  replica: "strata.dev/replica",
  stage: "strata.dev/stage",
  revision: "strata.dev/revision",
  role: "strata.dev/role",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

export const MANAGED_BY_VALUE = "strata-controller";

/**
 * Name of a stage's pod; stage 0 is the group's head. The gateway finds each
 * head by this name among the endpoints of its group's Service.
 */
export const stagePodName = (deployment: string, replica: number, stage: number) =>
  `${deployment}-${replica}-${stage}`;

/** Annotations the controller writes. */
export const ANNOTATIONS = {
  /** Layer range a stage pod serves, `first-last` inclusive, for humans and the worker. */
  layers: "strata.dev/layers",
  /** Hash of the spec fields a pod was built from, same value as the revision label. */
  revision: "strata.dev/revision",
} as const;

/** The label the scheduler-plugins coscheduling plugin reads to find a pod's PodGroup. */
export const POD_GROUP_LABEL = "scheduling.x-k8s.io/pod-group";

/** Default topology key: a group of stages must share one rack. */
export const DEFAULT_TOPOLOGY_KEY = "strata.dev/rack";
export const DEFAULT_GPU_RESOURCE = "nvidia.com/gpu";

/**
 * The one Strata image (deploy/images/Dockerfile): controller, gateway and
 * worker, as `strata <command>`. The CRD's default worker image and the chart's
 * default image; clusters that pull from their own registry override it.
 */
export const STRATA_IMAGE = "ghcr.io/strata-dev/strata:0.1.0";

export const CONDITION_TYPES = {
  planned: "Planned",
  scheduled: "Scheduled",
  available: "Available",
  progressing: "Progressing",
  degraded: "Degraded",
} as const;
export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];

/** Reasons used in conditions and in Kubernetes events. */
export const REASONS = {
  planned: "Planned",
  planFailed: "PlanFailed",
  invalidSpec: "InvalidSpec",
  allGroupsScheduled: "AllGroupsScheduled",
  insufficientCapacity: "InsufficientCapacity",
  gangTimeout: "GangTimeout",
  groupCreated: "GroupCreated",
  groupFailed: "GroupFailed",
  groupRecreated: "GroupRecreated",
  groupDeleted: "GroupDeleted",
  allGroupsAvailable: "AllGroupsAvailable",
  groupsUnavailable: "GroupsUnavailable",
  rollingUpdate: "RollingUpdate",
  rolloutComplete: "RolloutComplete",
  scaling: "Scaling",
  healthy: "Healthy",
  draining: "Draining",
  groupHung: "GroupHung",
  nodeNotReady: "NodeNotReady",
} as const;
export type Reason = (typeof REASONS)[keyof typeof REASONS];

/** Pod roles: stage 0 is the head that serves HTTP; others run layers only. */
export const WORKER_ROLES = { head: "head", stage: "stage" } as const;

/** Key in the per-deployment Secret that holds the tunnel token. */
export const TUNNEL_TOKEN_SECRET_KEY = "tunnel-token";
