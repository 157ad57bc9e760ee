import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  type V1Taint,
} from "@kubernetes/client-node";
import { DEFAULT_GPU_RESOURCE, DEFAULT_TOPOLOGY_KEY } from "@strata/core";
import { KWOK_NODE_ANNOTATION, KWOK_NODE_ANNOTATION_VALUE } from "./control-plane.js";
import { NODE_NOT_READY_LABEL } from "./kwok-stages.js";
import { pollUntil } from "./poll.js";

/**
 * Labels on fake GPU nodes. GPU labels follow NVIDIA GPU Feature Discovery
 * (https://github.com/NVIDIA/k8s-device-plugin/blob/main/docs/gpu-feature-discovery/README.md);
 * the zone label is the well-known one
 * (https://kubernetes.io/docs/reference/labels-annotations-taints/#topologykubernetesiozone);
 * rack is Strata's default topology key.
 */
export const NODE_LABELS = {
  gpuProduct: "nvidia.com/gpu.product",
  gpuCount: "nvidia.com/gpu.count",
  gpuMemory: "nvidia.com/gpu.memory",
  zone: "topology.kubernetes.io/zone",
  rack: DEFAULT_TOPOLOGY_KEY,
  nvlinkDomain: "strata.dev/nvlink-domain",
  pool: "strata.dev/node-pool",
  hostname: "kubernetes.io/hostname",
} as const;

export const GPU_RESOURCE = DEFAULT_GPU_RESOURCE;

/** A label value for the whole pool, or one computed from the node's index in the pool. */
export type PerNode = string | ((index: number) => string);

export interface GpuNodePool {
  /** Pool name; nodes are named `<name>-0`, `<name>-1`, … */
  readonly name: string;
  readonly count: number;
  readonly gpusPerNode: number;
  /** Value of `nvidia.com/gpu.product`, e.g. `NVIDIA-H100-80GB-HBM3`. */
  readonly gpuProduct: string;
  /** Value of `nvidia.com/gpu.memory` in MiB, when given. */
  readonly gpuMemoryMiB?: number;
  readonly labels?: { readonly zone?: PerNode; readonly rack?: PerNode; readonly nvlinkDomain?: PerNode };
  readonly extraLabels?: Readonly<Record<string, string>>;
  readonly taints?: readonly V1Taint[];
  /** Node capacity besides GPUs; defaults: 192 CPUs, 2 TiB memory, 110 pods. */
  readonly cpu?: string;
  readonly memory?: string;
  readonly pods?: number;
  /** Wait until every node is Ready and untainted by the node controller. Default true. */
  readonly waitReady?: boolean;
}

const READY_TIMEOUT_MS = 60_000;

/** Creates the pool's nodes (managed by kwok) and returns their names. */
export async function createGpuNodePool(kc: KubeConfig, pool: GpuNodePool): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names = Array.from({ length: pool.count }, (_, i) => `${pool.name}-${i}`);
  await Promise.all(names.map((name, i) => core.createNode({ body: gpuNode(pool, name, i) })));
  if (pool.waitReady ?? true) {
    await Promise.all(names.map((name) => waitForNodeReady(kc, name, true)));
  }
  return names;
}

/**
 * The labels a GPU node of the pool carries, KWOK or real: instance type, pool,
 * GPU product/count/memory, and zone, rack and NVLink domain where given.
 */
export function gpuPoolLabels(
  pool: Pick<GpuNodePool, "name" | "gpusPerNode" | "gpuProduct" | "gpuMemoryMiB" | "labels" | "extraLabels">,
  index: number,
): Record<string, string> {
  const at = (v: PerNode | undefined): string | undefined => (typeof v === "function" ? v(index) : v);
  const labels: Record<string, string> = {
    "node.kubernetes.io/instance-type": `${pool.gpusPerNode}x${pool.gpuProduct}`,
    [NODE_LABELS.pool]: pool.name,
    [NODE_LABELS.gpuProduct]: pool.gpuProduct,
    [NODE_LABELS.gpuCount]: String(pool.gpusPerNode),
    ...(pool.gpuMemoryMiB !== undefined ? { [NODE_LABELS.gpuMemory]: String(pool.gpuMemoryMiB) } : {}),
  };
  const topology = {
    zone: at(pool.labels?.zone),
    rack: at(pool.labels?.rack),
    nvlinkDomain: at(pool.labels?.nvlinkDomain),
  };
  for (const [key, value] of Object.entries(topology)) {
    if (value !== undefined) labels[NODE_LABELS[key as keyof typeof topology]] = value;
  }
  return { ...labels, ...pool.extraLabels };
}

function gpuNode(pool: GpuNodePool, name: string, index: number): V1Node {
  const labels: Record<string, string> = {
    [NODE_LABELS.hostname]: name,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    type: "kwok",
    ...gpuPoolLabels(pool, index),
  };
  const resources = {
    cpu: pool.cpu ?? "192",
    memory: pool.memory ?? "2Ti",
    pods: String(pool.pods ?? 110),
    [GPU_RESOURCE]: String(pool.gpusPerNode),
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels,
      annotations: {
        [KWOK_NODE_ANNOTATION]: KWOK_NODE_ANNOTATION_VALUE,
        "node.alpha.kubernetes.io/ttl": "0",
      },
    },
    spec: { taints: pool.taints ? [...pool.taints] : [] },
    status: { capacity: resources, allocatable: resources },
  };
}

/** Makes kwok report the node NotReady (Ready=False); waits until the API shows it. */
export async function setNodeNotReady(kc: KubeConfig, nodeName: string): Promise<void> {
  await patchNodeLabels(kc, nodeName, { [NODE_NOT_READY_LABEL]: "true" });
  await waitForNodeReady(kc, nodeName, false);
}

/** Undoes setNodeNotReady; waits until the node is Ready again. */
export async function setNodeReady(kc: KubeConfig, nodeName: string): Promise<void> {
  await patchNodeLabels(kc, nodeName, { [NODE_NOT_READY_LABEL]: null });
  await waitForNodeReady(kc, nodeName, true);
}

async function patchNodeLabels(
  kc: KubeConfig,
  name: string,
  labels: Record<string, string | null>,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.patchNode(
    { name, body: { metadata: { labels } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

/** Ready: condition True and no NoSchedule taint from the node controller. NotReady: condition False. */
export async function waitForNodeReady(
  kc: KubeConfig,
  name: string,
  ready: boolean,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await pollUntil(`node ${name} ${ready ? "Ready" : "NotReady"}`, timeoutMs, async () => {
    const node = await core.readNode({ name });
    const status = node.status?.conditions?.find((c) => c.type === "Ready")?.status;
    if (!ready) return status === "False";
    const controllerTaint = (node.spec?.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"));
    return status === "True" && !controllerTaint;
  });
}
