import { z } from "zod";
import {
  MODEL_DEPLOYMENT_KIND,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_SHORT_NAMES,
  MODEL_DEPLOYMENT_SINGULAR,
  MODEL_DEPLOYMENT_VERSION,
  STRATA_API_GROUP,
} from "./constants.js";
import {
  MAX_DEPLOYMENT_NAME_LENGTH,
  modelDeploymentSpecSchema,
  modelDeploymentStatusSchema,
} from "./schema.js";

/** The shape facts the API server needs to check tp and pp against a catalog model. */
export interface CatalogModelShape {
  readonly id: string;
  readonly layers: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
  /** Routed experts per MoE layer; 0 for a dense model. */
  readonly experts: number;
}

type JsonSchema = { [key: string]: unknown };

// zod writes these bounds for z.int(); they say nothing and bloat the CRD.
const SAFE_INT = Number.MAX_SAFE_INTEGER;

/**
 * Turns zod's OpenAPI 3.0 output into a Kubernetes structural schema:
 * no `additionalProperties: false` (the API server prunes unknown fields
 * instead), no boolean `exclusiveMinimum`, no safe-integer bounds, no zod
 * formats.
 */
export function toStructuralSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStructuralSchema);
  if (node === null || typeof node !== "object") return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node as JsonSchema)) {
    if (key === "$schema") continue;
    // zod names its own string checks as formats (e.g. starts_with); Kubernetes knows none of them.
    if (key === "format" && typeof value === "string") continue;
    if (key === "additionalProperties" && value === false) continue;
    if ((key === "maximum" && value === SAFE_INT) || (key === "minimum" && value === -SAFE_INT)) continue;
    if (key === "properties" || key === "default" || key === "x-kubernetes-validations") {
      out[key] = key === "properties" ? mapValues(value as JsonSchema, toStructuralSchema) : value;
      continue;
    }
    out[key] = toStructuralSchema(value);
  }
  return out;
}

function mapValues(record: JsonSchema, fn: (v: unknown) => unknown): JsonSchema {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v)]));
}

function celString(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * CEL rules on `spec` that need more than one field, or the catalog: the API
 * server checks tp and pp against the GPUs per node and the model's shape.
 */
export function specRules(catalog: readonly CatalogModelShape[]): JsonSchema[] {
  const shapes = `{${[...catalog]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((m) => `${celString(m.id)}: [${m.attentionHeads}, ${m.kvHeads}, ${m.layers}, ${m.experts}]`)
    .join(", ")}}`;
  const explicitTp = "self.parallelism.mode == 'explicit' && has(self.parallelism.tp)";
  const explicitPp = "self.parallelism.mode == 'explicit' && has(self.parallelism.pp)";
  const expertParallel = "has(self.parallelism.ep) && self.parallelism.ep > 1";
  const inCatalog = `has(self.model.catalog) && self.model.catalog in ${shapes}`;
  const shape = (i: number) => `${shapes}[self.model.catalog][${i}]`;
  const headsOk = (heads: string, kv: string) =>
    `${heads} % self.parallelism.tp == 0 && (${kv} % self.parallelism.tp == 0 || self.parallelism.tp % ${kv} == 0)`;
  return [
    {
      rule: `!(${explicitTp}) || self.parallelism.tp <= self.gpu.perNode`,
      message: "tp cannot exceed gpu.perNode: a pod's GPUs must sit on one node",
      fieldPath: ".parallelism.tp",
    },
    {
      rule:
        `!(${explicitTp}) || (has(self.model.architecture) ? ` +
        `${headsOk("self.model.architecture.attentionHeads", "self.model.architecture.kvHeads")} : ` +
        `(!(${inCatalog}) || ${headsOk(shape(0), shape(1))}))`,
      message: "tp must divide the model's attention heads (and its KV heads, or be a multiple of them)",
      fieldPath: ".parallelism.tp",
    },
    {
      rule:
        `!(${explicitPp}) || (has(self.model.architecture) ? ` +
        `self.parallelism.pp <= self.model.architecture.layers : ` +
        `(!(${inCatalog}) || self.parallelism.pp <= ${shape(2)}))`,
      message: "pp cannot exceed the model's layer count: every stage needs at least one layer",
      fieldPath: ".parallelism.pp",
    },
    {
      rule: `!(${expertParallel}) || self.parallelism.ep <= self.gpu.perNode`,
      message: "ep cannot exceed gpu.perNode: a pod's GPUs must sit on one node",
      fieldPath: ".parallelism.ep",
    },
    {
      rule: `!(${expertParallel}) || self.engine == 'vllm'`,
      message: "expert parallelism (ep > 1) needs engine: vllm; llama.cpp splits a model by layers",
      fieldPath: ".parallelism.ep",
    },
    {
      rule:
        `!(${expertParallel}) || (has(self.model.architecture) ? ` +
        `(has(self.model.architecture.experts) && self.model.architecture.experts % self.parallelism.ep == 0) : ` +
        `(!(${inCatalog}) || (${shape(3)} > 0 && ${shape(3)} % self.parallelism.ep == 0)))`,
      message: "ep must divide the model's routed experts (a dense model has none)",
      fieldPath: ".parallelism.ep",
    },
  ];
}

/** The openAPIV3Schema of ModelDeployment: spec and status from the zod schema, plus CEL rules. */
export function modelDeploymentOpenApiSchema(catalog: readonly CatalogModelShape[]): JsonSchema {
  const spec = toStructuralSchema(
    z.toJSONSchema(modelDeploymentSpecSchema, { target: "openapi-3.0", io: "input" }),
  );
  const status = toStructuralSchema(
    z.toJSONSchema(modelDeploymentStatusSchema, { target: "openapi-3.0", io: "input" }),
  );
  return {
    type: "object",
    description: "A model served by shard groups: one group of pipeline-stage pods per replica.",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: { ...(spec as JsonSchema), "x-kubernetes-validations": specRules(catalog) },
      status,
    },
    "x-kubernetes-validations": [
      {
        rule: `self.metadata.name.size() <= ${MAX_DEPLOYMENT_NAME_LENGTH}`,
        // No fieldPath: metadata is not part of the schema's properties, so the message names the field.
        message: `metadata.name must be at most ${MAX_DEPLOYMENT_NAME_LENGTH} characters (pod and Service names derive from it)`,
      },
    ],
  };
}

/** The CustomResourceDefinition object for ModelDeployment, ready to serialize as YAML. */
export function modelDeploymentCrd(catalog: readonly CatalogModelShape[]): JsonSchema {
  const condition = (type: string) => `.status.conditions[?(@.type=="${type}")].status`;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${MODEL_DEPLOYMENT_PLURAL}.${STRATA_API_GROUP}` },
    spec: {
      group: STRATA_API_GROUP,
      scope: "Namespaced",
      names: {
        kind: MODEL_DEPLOYMENT_KIND,
        listKind: `${MODEL_DEPLOYMENT_KIND}List`,
        plural: MODEL_DEPLOYMENT_PLURAL,
        singular: MODEL_DEPLOYMENT_SINGULAR,
        shortNames: [...MODEL_DEPLOYMENT_SHORT_NAMES],
        categories: ["strata"],
      },
      versions: [
        {
          name: MODEL_DEPLOYMENT_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: modelDeploymentOpenApiSchema(catalog) },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.replicas",
              statusReplicasPath: ".status.replicas",
              labelSelectorPath: ".status.selector",
            },
          },
          additionalPrinterColumns: [
            { name: "Engine", type: "string", jsonPath: ".spec.engine" },
            { name: "TP", type: "integer", jsonPath: ".status.plan.tp" },
            { name: "PP", type: "integer", jsonPath: ".status.plan.pp" },
            { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
            { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas" },
            { name: "Available", type: "string", jsonPath: condition("Available") },
            { name: "Degraded", type: "string", jsonPath: condition("Degraded"), priority: 1 },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}
