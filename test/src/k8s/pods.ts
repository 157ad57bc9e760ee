import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { POD_FAIL_LABEL, POD_FAIL_MESSAGE_ANNOTATION, POD_FAIL_REASON_ANNOTATION } from "./kwok-stages.js";

export interface FailPodOptions {
  readonly namespace: string;
  readonly name: string;
  /** Reason on the pod and its terminated containers; default "Error". */
  readonly reason?: string;
  readonly message?: string;
}

/**
 * Makes kwok fail the pod as a kubelet would report a crashed container: phase
 * Failed, every container terminated with exit code 1. Returns once the label
 * is set; poll the pod for `status.phase === "Failed"`.
 */
export async function failPod(kc: KubeConfig, opts: FailPodOptions): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const annotations: Record<string, string> = {};
  if (opts.reason !== undefined) annotations[POD_FAIL_REASON_ANNOTATION] = opts.reason;
  if (opts.message !== undefined) annotations[POD_FAIL_MESSAGE_ANNOTATION] = opts.message;
  await core.patchNamespacedPod(
    {
      namespace: opts.namespace,
      name: opts.name,
      body: { metadata: { labels: { [POD_FAIL_LABEL]: "true" }, annotations } },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}
