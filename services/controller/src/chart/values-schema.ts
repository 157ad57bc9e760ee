import { MAX_DEPLOYMENT_NAME_LENGTH, modelDeploymentSpecSchema } from "@strata/core";
import { z } from "zod";

/**
 * The Helm chart's values, as one zod schema. `values.schema.json` is
 * generated from it, and `modelDeployments[].spec` is the very schema the CRD
 * comes from, so `helm install` rejects a bad deployment before the API
 * server sees it.
 */

const image = z.object({
  repository: z.string().min(1),
  tag: z.string().min(1),
  pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent"),
});

const resources = z
  .object({
    requests: z.record(z.string(), z.string()).optional(),
    limits: z.record(z.string(), z.string()).optional(),
  })
  .optional();

export const chartValuesSchema = z.object({
  controller: z.object({
    image,
    replicas: z.int().min(1).default(2).describe("Two or more for failover; one leader acts"),
    leaderElection: z.object({
      enabled: z.boolean().default(true),
      leaseDurationSeconds: z.int().min(2).default(15),
      renewDeadlineSeconds: z.int().min(1).default(10),
      retryPeriodSeconds: z.int().min(1).default(2),
    }),
    gangTimeoutSeconds: z
      .int()
      .min(1)
      .default(120)
      .describe("How long a group may wait for all its pods to bind"),
    nodeNotReadyGraceSeconds: z
      .int()
      .min(1)
      .default(60)
      .describe("A group with a pod on a node NotReady this long is recreated elsewhere"),
    watchNamespace: z.string().default("").describe("Empty: watch every namespace"),
    metricsPort: z.int().min(1).max(65535).default(8081),
    resources,
  }),
  gateway: z.object({
    enabled: z.boolean().default(true),
    image,
    replicas: z.int().min(1).default(2),
    watchNamespace: z
      .string()
      .default("")
      .describe("Namespace of the ModelDeployments it serves; empty: the release namespace"),
    service: z.object({
      type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).default("ClusterIP"),
      port: z.int().min(1).max(65535).default(80),
    }),
    resources,
  }),
  nats: z.object({
    enabled: z.boolean().default(true).describe("Run an in-chart NATS server with JetStream"),
    image,
    url: z.string().default("").describe("URL of an external NATS when nats.enabled is false"),
    storageType: z
      .enum(["persistentVolumeClaim", "emptyDir"])
      .default("persistentVolumeClaim")
      .describe(
        "Where JetStream keeps its store: a volume claim (needs a storage class) or the pod's emptyDir",
      ),
    storageSize: z.string().default("10Gi"),
    resources,
  }),
  modelDeployments: z
    .array(
      z.object({
        name: z
          .string()
          .max(MAX_DEPLOYMENT_NAME_LENGTH)
          .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
        spec: modelDeploymentSpecSchema,
      }),
    )
    .default([])
    .describe("ModelDeployments to create with the chart"),
});

export type ChartValues = z.output<typeof chartValuesSchema>;

/** JSON Schema (draft 7) for Helm's values.schema.json. */
export function chartValuesJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(chartValuesSchema, { target: "draft-7", io: "input" }) as Record<
    string,
    unknown
  >;
  return { ...schema, title: "Strata Helm chart values" };
}
