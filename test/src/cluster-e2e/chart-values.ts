import { type ModelDeploymentSpecInput, STRATA_IMAGE } from "@strata/core";
import { NATS_IMAGE } from "../images/index.js";
import { NODE_LABELS } from "../k8s/index.js";

/** The release, its namespace (the ModelDeployments live there too: the gateway watches it). */
export const RELEASE = "strata";
export const NAMESPACE = "strata-system";
/** The ModelDeployment the chart creates, and the name clients ask for. */
export const DEPLOYMENT = "smol";
export const SERVED_NAME = "smollm2-135m";
/** Where the model file lies on every node (a hostPath); the nodes share this machine's filesystem. */
export const MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf";

export interface ReleaseShape {
  /** The host directory holding MODEL_FILE. */
  readonly modelDir: string;
  readonly replicas: number;
  /** The workload's context length: changing it changes the pods, so the groups roll. */
  readonly maxModelLength: number;
}

const [natsRepository, natsTag] = splitImage(NATS_IMAGE);
const [strataRepository, strataTag] = splitImage(STRATA_IMAGE);

/**
 * The chart's values as a platform team on this cluster would write them:
 * the images are already on the nodes (pull policy Never), NATS from the test
 * image keeps JetStream in an emptyDir (no storage class here), the gateway
 * is a NodePort Service (the host reaches node addresses, not ClusterIPs), and
 * the chart creates the ModelDeployment.
 */
export function chartValues(shape: ReleaseShape): Record<string, unknown> {
  const image = { repository: strataRepository, tag: strataTag, pullPolicy: "Never" };
  return {
    controller: {
      image,
      replicas: 2,
      resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
    },
    gateway: {
      image,
      replicas: 1,
      service: { type: "NodePort", port: 80 },
      resources: { requests: { cpu: "50m", memory: "128Mi" } },
    },
    nats: {
      image: { repository: natsRepository, tag: natsTag, pullPolicy: "Never" },
      storageType: "emptyDir",
      storageSize: "256Mi",
    },
    modelDeployments: [{ name: DEPLOYMENT, spec: deploymentSpec(shape) }],
  };
}

/** SmolLM2-135M in 2 pipeline stages on the real nodes, one GPU per stage pod. */
export function deploymentSpec(shape: ReleaseShape): ModelDeploymentSpecInput {
  return {
    model: {
      catalog: SERVED_NAME,
      source: { hostPath: `${shape.modelDir}/${MODEL_FILE}` },
      format: "gguf",
      servedName: SERVED_NAME,
    },
    engine: "llamacpp",
    parallelism: { mode: "explicit", tp: 1, pp: 2 },
    replicas: shape.replicas,
    gpu: { type: "h100-sxm-80g", perNode: 1, nodeSelector: { [NODE_LABELS.pool]: "real" } },
    workload: { maxModelLength: shape.maxModelLength, concurrency: 2 },
    images: { worker: STRATA_IMAGE, pullPolicy: "Never" },
    rollout: { maxSurge: 0, maxUnavailable: 1, drainTimeoutSeconds: 60 },
  };
}

function splitImage(ref: string): [string, string] {
  const at = ref.lastIndexOf(":");
  return [ref.slice(0, at), ref.slice(at + 1)];
}
