import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_MAX_SEQUENCES, STRATA_IMAGE } from "@strata/core";
import { completeGreedy } from "../e2e/strata-up.js";
import { NODE_LABELS, pollUntil } from "../k8s/index.js";

const REFERENCE_PORT = 8090;
const READY_MS = 180_000;

export interface ReferenceTokens {
  readonly tokens: readonly number[];
  readonly content: string;
  readonly node: string;
}

/**
 * The same image's engine run as one stage: a pod running the image's
 * llama-server on the whole model (no RPC, no tunnel, no GPU request), asked
 * for greedy tokens from the host. The pod is deleted afterwards.
 */
export async function referenceTokens(
  kc: KubeConfig,
  namespace: string,
  modelDir: string,
  modelFile: string,
  contextSize: number,
  prompt: string,
  nPredict: number,
): Promise<ReferenceTokens> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = "one-stage-reference";
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        restartPolicy: "Never",
        terminationGracePeriodSeconds: 1,
        nodeSelector: { [NODE_LABELS.pool]: "real" },
        volumes: [{ name: "model", hostPath: { path: modelDir, type: "Directory" } }],
        containers: [
          {
            name: "llama-server",
            image: STRATA_IMAGE,
            imagePullPolicy: "Never",
            command: ["llama-server"],
            args: [
              "--model",
              `/models/${modelFile}`,
              "--host",
              "0.0.0.0",
              "--port",
              String(REFERENCE_PORT),
              // The head's context and slots (llamacpp-args.ts), for the same arithmetic.
              "--ctx-size",
              String(contextSize),
              "--parallel",
              String(DEFAULT_MAX_SEQUENCES),
              "--kv-unified",
            ],
            volumeMounts: [{ name: "model", mountPath: "/models", readOnly: true }],
            readinessProbe: { httpGet: { path: "/health", port: REFERENCE_PORT }, periodSeconds: 1 },
          },
        ],
      },
    },
  });
  try {
    let ip = "";
    let node = "";
    await pollUntil("the one-stage reference pod Ready", READY_MS, async () => {
      const pod = await core.readNamespacedPod({ namespace, name });
      if (pod.status?.phase === "Failed") {
        const log = await core.readNamespacedPodLog({ namespace, name }).catch(() => "");
        throw new Error(`the reference pod failed: ${log.slice(-500)}`);
      }
      ip = pod.status?.podIP ?? "";
      node = pod.spec?.nodeName ?? "";
      return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    });
    const answer = await completeGreedy(`http://${ip}:${REFERENCE_PORT}`, prompt, nPredict);
    return { ...answer, node };
  } finally {
    await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch(() => undefined);
  }
}
