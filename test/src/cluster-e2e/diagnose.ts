import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { MODEL_DEPLOYMENT_PLURAL, MODEL_DEPLOYMENT_VERSION, STRATA_API_GROUP } from "@strata/core";

const LOG_LINES = 15;

/** On a failure: every pod's phase and the tail of its log, and each ModelDeployment's status. */
export async function diagnose(
  kc: KubeConfig,
  namespace: string,
  say: (line: string) => void,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (const pod of (await core.listNamespacedPod({ namespace })).items) {
    const name = pod.metadata?.name ?? "";
    const state = pod.status?.containerStatuses?.[0]?.state;
    say(
      `pod ${name} on ${pod.spec?.nodeName ?? "-"}: ${pod.status?.phase} ${JSON.stringify(state ?? {})}`.slice(
        0,
        400,
      ),
    );
    const log = await core
      .readNamespacedPodLog({ namespace, name, tailLines: LOG_LINES })
      .catch((err: unknown) => `(no log: ${err instanceof Error ? err.message.slice(0, 120) : err})`);
    for (const line of String(log).split("\n").filter(Boolean)) say(`  | ${line.slice(0, 300)}`);
  }
  const mds = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
    group: STRATA_API_GROUP,
    version: MODEL_DEPLOYMENT_VERSION,
    plural: MODEL_DEPLOYMENT_PLURAL,
    namespace,
  })) as { items: { metadata: { name: string }; status?: unknown }[] };
  for (const md of mds.items) say(`modeldeployment ${md.metadata.name}: ${JSON.stringify(md.status ?? {})}`);
}

/**
 * The kubelets' container logs still on disk under the cluster's directory,
 * for pods already deleted (a failed worker's group is recreated at once).
 */
export async function diagnoseNodeLogs(clusterDir: string, say: (line: string) => void): Promise<void> {
  const nodes = join(clusterDir, "nodes");
  for (const node of (await readdir(nodes)).sort()) {
    const podLogs = join(nodes, node, "kubelet", "pod-logs");
    const files = (await readdir(podLogs, { recursive: true }).catch(() => [])).filter((f) =>
      f.endsWith(".log"),
    );
    for (const file of files.sort()) {
      const lines = (await readFile(join(podLogs, file), "utf8")).split("\n").filter(Boolean);
      say(`log ${node} ${file}`);
      for (const line of lines.slice(-LOG_LINES)) say(`  | ${line.slice(0, 300)}`);
    }
  }
}
