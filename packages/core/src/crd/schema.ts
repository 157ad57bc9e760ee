import { z } from "zod";
import { engineSchema } from "../engines.js";
import { WEIGHT_DTYPES } from "../model/model-spec.js";
import { layerRangeSchema } from "../planner/layer-range.js";
import { DEFAULT_GPU_RESOURCE, DEFAULT_TOPOLOGY_KEY, STRATA_IMAGE } from "./constants.js";

/**
 * The one schema of `ModelDeployment` (strata.dev/v1alpha1). The CRD's
 * openAPIV3Schema and the Helm chart's values schema are generated from it
 * (`crdManifest`, `chartValuesJsonSchema`); the controller parses every object
 * it reads with it. CEL rules live next to the fields they guard, via
 * `x-kubernetes-validations` metadata, so the API server rejects bad objects
 * with a message naming the field.
 */

type Rule = { rule: string; message: string; fieldPath?: string; reason?: string };
const cel = (...rules: Rule[]) => ({ "x-kubernetes-validations": rules });

const quantity = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/)
  .describe("A Kubernetes quantity, e.g. 16, 500m, 64Gi");

/** Label values are at most 63 characters; keep deployment names short enough for derived names. */
export const MAX_DEPLOYMENT_NAME_LENGTH = 40;

export const modelSourceSchema = z
  .object({
    uri: z.string().min(1).optional().describe("A URI the worker image can fetch (https://, s3://, hf://)"),
    hostPath: z.string().startsWith("/").optional().describe("A path on every GPU node"),
    pvc: z
      .object({
        claimName: z.string().min(1),
        path: z.string().default("").describe("Path of the model inside the volume"),
      })
      .optional()
      .describe("A PersistentVolumeClaim (ReadOnlyMany) holding the model"),
  })
  .meta(
    cel({
      rule: "(has(self.uri) ? 1 : 0) + (has(self.hostPath) ? 1 : 0) + (has(self.pvc) ? 1 : 0) == 1",
      message: "exactly one of uri, hostPath or pvc must be set",
    }),
  );

export const modelArchitectureSchema = z.object({
  layers: z.int().min(1).max(1024),
  attentionHeads: z.int().min(1).max(1024),
  kvHeads: z.int().min(1).max(1024),
  experts: z
    .int()
    .min(1)
    .max(4096)
    .optional()
    .describe("Routed experts per MoE layer, for a mixture-of-experts model (parallelism.ep must divide it)"),
});

export const modelSchema = z
  .object({
    catalog: z
      .string()
      .min(1)
      .optional()
      .describe("Id of a model in Strata's catalog, e.g. llama-3.1-405b; gives the planner its shape"),
    architecture: modelArchitectureSchema
      .optional()
      .describe("Shape of a model that is not in the catalog; overrides the catalog's"),
    source: modelSourceSchema,
    format: z.enum(["gguf", "hf"]).default("hf"),
    servedName: z.string().min(1).describe("Model name clients put in OpenAI requests"),
  })
  .meta(
    cel({
      rule: "has(self.catalog) || has(self.architecture)",
      message: "one of catalog or architecture must be set so the controller knows the model's shape",
    }),
  );

export const parallelismSchema = z
  .object({
    mode: z.enum(["auto", "explicit"]).default("auto"),
    tp: z.int().min(1).max(64).optional().describe("Tensor-parallel degree: GPUs per pod"),
    pp: z.int().min(1).max(256).optional().describe("Pipeline-parallel degree: pods per group"),
    ep: z
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe(
        "Expert-parallel degree (vllm engine, mixture-of-experts models): GPUs per pod that share the routed " +
          "experts, a multiple of tp; attention runs as ep/tp data-parallel ranks. 1 or unset splits every expert by tp",
      ),
  })
  .meta(
    cel(
      {
        rule: "self.mode == 'auto' || (has(self.tp) && has(self.pp))",
        message: "explicit parallelism needs both tp and pp",
        fieldPath: ".mode",
      },
      {
        rule: "self.mode == 'explicit' || (!has(self.tp) && !has(self.pp) && !has(self.ep))",
        message: "tp, pp and ep are chosen by the planner when mode is auto; set mode: explicit",
        fieldPath: ".mode",
      },
      {
        rule: "!has(self.ep) || self.ep == 1 || (has(self.tp) && self.ep % self.tp == 0)",
        message: "ep must be a multiple of tp (vLLM sizes expert parallelism as tp × data-parallel ranks)",
        fieldPath: ".ep",
      },
      {
        rule: "!has(self.ep) || self.ep == 1 || (has(self.pp) && self.pp == 1)",
        message: "expert parallelism (ep > 1) runs as one pipeline stage: set pp to 1",
        fieldPath: ".ep",
      },
    ),
  );

export const tolerationSchema = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.int().optional(),
});

export const gpuSchema = z.object({
  type: z.string().min(1).describe("GPU model in Strata's GPU catalog, e.g. h100-sxm-80g"),
  perNode: z.int().min(1).max(16).default(8).describe("GPUs on each node of the pool"),
  resourceName: z.string().default(DEFAULT_GPU_RESOURCE),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(tolerationSchema).optional(),
});

export const workloadSchema = z.object({
  maxModelLength: z.int().min(128).max(1_048_576).default(8192).describe("Longest context in tokens"),
  concurrency: z.int().min(1).max(100_000).default(16).describe("Expected concurrent sequences per replica"),
});

export const imagesSchema = z.object({
  worker: z.string().min(1).default(STRATA_IMAGE),
  pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent"),
});

export const resourcesSchema = z.object({
  cpu: quantity.optional().describe("CPU request of each worker pod"),
  memory: quantity.optional().describe("Memory request and limit of each worker pod"),
  sharedMemory: quantity.optional().describe("Size of /dev/shm (NCCL needs more than the default 64Mi)"),
});

export const rpcCacheSchema = z.object({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      "llama.cpp stages fill ggml-rpc-server's tensor cache from the model volume before the head loads, so large weights do not cross the tunnel (needs a hostPath or pvc model source)",
    ),
  sizeLimit: quantity
    .optional()
    .describe(
      "Bound on each stage's cache, a second copy of its large weights (also the emptyDir's sizeLimit)",
    ),
  hostPath: z
    .string()
    .startsWith("/")
    .optional()
    .describe(
      "Keep the caches on the node under this path, one folder per namespace, deployment, replica and stage, so a recreated group finds them full (default: an emptyDir per pod)",
    ),
});

/** How long a group's head may take to finish its in-flight requests before the group is deleted anyway. */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 120;

export const rolloutSchema = z
  .object({
    maxSurge: z.int().min(0).default(0).describe("Extra groups allowed during a rolling update"),
    maxUnavailable: z
      .int()
      .min(0)
      .default(1)
      .describe("Groups allowed to be unavailable during a rolling update"),
    drainTimeoutSeconds: z
      .int()
      .min(0)
      .max(86_400)
      .default(DEFAULT_DRAIN_TIMEOUT_SECONDS)
      .describe(
        "Before a rollout or scale-down deletes a group, its head is asked to drain (no new requests) " +
          "and the group is deleted once its in-flight requests finish, or after this many seconds",
      ),
  })
  .meta(
    cel({
      rule: "self.maxSurge + self.maxUnavailable > 0",
      message: "maxSurge and maxUnavailable cannot both be 0",
      fieldPath: ".maxUnavailable",
    }),
  );

export const modelDeploymentSpecSchema = z.object({
  model: modelSchema,
  engine: engineSchema,
  dtype: z.enum(WEIGHT_DTYPES).default("bf16"),
  parallelism: parallelismSchema.default({ mode: "auto" }),
  replicas: z.int().min(0).max(1000).default(1),
  gpu: gpuSchema,
  workload: workloadSchema.default({ maxModelLength: 8192, concurrency: 16 }),
  topologyKey: z
    .string()
    .min(1)
    .default(DEFAULT_TOPOLOGY_KEY)
    .describe("Node label whose value a whole group shares"),
  images: imagesSchema.default({
    worker: STRATA_IMAGE,
    pullPolicy: "IfNotPresent",
  }),
  resources: resourcesSchema.optional(),
  rpcCache: rpcCacheSchema.optional().describe("Stage tensor caches (llama.cpp); on unless enabled is false"),
  rollout: rolloutSchema.default({
    maxSurge: 0,
    maxUnavailable: 1,
    drainTimeoutSeconds: DEFAULT_DRAIN_TIMEOUT_SECONDS,
  }),
});

export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.int().optional(),
});

export const stagePlanSchema = z.object({
  stage: z.int().min(0),
  layers: layerRangeSchema,
});

export const planStatusSchema = z.object({
  tp: z.int().min(1),
  pp: z.int().min(1),
  ep: z
    .int()
    .min(1)
    .default(1)
    .describe(
      "Expert parallelism: 1 splits experts by tp; above 1, experts over ep GPUs per pod (vLLM --enable-expert-parallel)",
    ),
  gpusPerGroup: z.int().min(1),
  stages: z.array(stagePlanSchema),
  summary: z.string().optional(),
});

export const GROUP_PHASES = [
  "Pending",
  "Scheduling",
  "Running",
  "Available",
  "Recreating",
  "Backoff",
  "Draining",
] as const;

/**
 * One stage of a group as its worker last reported it over NATS (heartbeats and
 * lifecycle events), or what the controller concluded: `hung` (its engine failed
 * its probe), `silent` (its heartbeats stopped while its pod runs).
 */
export const groupStageSchema = z.object({
  stage: z.int().min(0),
  state: z.enum(["starting", "ready", "draining", "failed", "stopped", "hung", "silent"]),
});

/** The newest lifecycle event of a group's workers. */
export const lastTransitionSchema = z.object({
  stage: z.int().min(0),
  kind: z.string(),
  at: z.string().describe("RFC 3339 time the worker recorded the event"),
  reason: z.string().optional(),
});

export const groupStatusSchema = z.object({
  replica: z.int().min(0),
  revision: z.string(),
  phase: z.enum(GROUP_PHASES),
  boundPods: z.int().min(0),
  readyPods: z.int().min(0),
  domain: z.string().optional().describe("Value of the topology key the group is packed into"),
  attempts: z
    .int()
    .min(0)
    .optional()
    .describe("Attempts in a row that timed out in gang scheduling or failed before the group was Available"),
  retryAfter: z.string().optional().describe("RFC 3339 time before which the group is not retried"),
  reason: z
    .string()
    .optional()
    .describe("Why the group backs off, in phase Backoff: GangTimeout (not bound in time) or GroupFailed"),
  drainingSince: z
    .string()
    .optional()
    .describe("RFC 3339 time its head was asked to drain before the group is deleted"),
  stages: z
    .array(groupStageSchema)
    .optional()
    .describe("Stage states from the workers' heartbeats and lifecycle events (NATS)"),
  lastTransition: lastTransitionSchema.optional(),
  message: z.string().optional(),
});

export const modelDeploymentStatusSchema = z.object({
  observedGeneration: z.int().optional(),
  plan: planStatusSchema.optional(),
  revision: z.string().optional(),
  replicas: z.int().min(0).default(0),
  readyReplicas: z.int().min(0).default(0),
  updatedReplicas: z.int().min(0).default(0),
  selector: z.string().optional().describe("Label selector of the head pods, for the scale subresource"),
  groups: z.array(groupStatusSchema).optional(),
  conditions: z.array(conditionSchema).optional(),
});

export type ModelDeploymentSpec = z.output<typeof modelDeploymentSpecSchema>;
export type ModelDeploymentSpecInput = z.input<typeof modelDeploymentSpecSchema>;
export type ModelDeploymentStatus = z.output<typeof modelDeploymentStatusSchema>;
export type Condition = z.output<typeof conditionSchema>;
export type PlanStatus = z.output<typeof planStatusSchema>;
export type StagePlan = z.output<typeof stagePlanSchema>;
export type GroupStatus = z.output<typeof groupStatusSchema>;
export type GroupStageStatus = z.output<typeof groupStageSchema>;
export type GroupLastTransition = z.output<typeof lastTransitionSchema>;
export type GroupPhase = (typeof GROUP_PHASES)[number];

export interface ModelDeployment {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: ModelDeploymentSpec;
  status?: ModelDeploymentStatus;
}
