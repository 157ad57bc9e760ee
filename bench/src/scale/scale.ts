import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
  type V1Pod,
} from "@kubernetes/client-node";
import { CONTROLLER_METRICS, Controller, resolveControllerConfig } from "@strata/controller";
import { CONDITION_TYPES, LABELS, MODEL_DEPLOYMENT_API_VERSION, type ModelDeployment } from "@strata/core";
import { silentLogger } from "@strata/runtime";
import { createGpuNodePool, createTestNamespace, pollUntil, startControlPlane } from "@strata/test/k8s";
import { histogramQuantile } from "./figures.js";

/**
 * Scale benchmark: many fake GPU nodes (kwok), many ModelDeployments, the real
 * apiserver and scheduler. Baseline in the same run: the same number of
 * GPU pods created directly (no controller, no gang admission), timed until
 * the scheduler has bound them all.
 */
export interface ScaleOptions {
  readonly nodes: number;
  readonly deployments: number;
  readonly replicas: number;
  readonly stages: number;
  readonly gpusPerPod: number;
  readonly nodesPerRack: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export interface ScaleFigures {
  readonly nodes: number;
  readonly deployments: number;
  readonly groups: number;
  readonly pods: number;
  readonly baselineBoundMs: number;
  readonly allBoundMs: number;
  readonly allAvailableMs: number;
  readonly reconciles: number;
  /** Reconciles whose status write lost to a newer version (a conflict) and ran again. */
  readonly conflicts: number;
  /** CPU seconds of this process (controller and the benchmark's own polling) until every group was bound. */
  readonly cpuUntilBoundS: number;
  readonly reconcileP50Ms: number;
  readonly reconcileP99Ms: number;
  readonly writeRequests: number;
  readonly writeRequestsPerReconcile: number;
  readonly groupsSplitAcrossRacks: number;
}

const CRD_FILE = fileURLToPath(
  new URL("../../../deploy/helm/strata/crds/modeldeployments.yaml", import.meta.url),
);
const POOL = "scale";
const NODE_BATCH = 100;

export async function runScaleBench(o: ScaleOptions): Promise<ScaleFigures> {
  const cp = await startControlPlane({
    extraArgs: {
      "kube-apiserver": ["--max-requests-inflight=800", "--max-mutating-requests-inflight=400"],
      // On a loaded host kwok renews a thousand node leases late; with the default grace the
      // node controller then taints nodes NotReady mid-run, pods go unschedulable and groups
      // are recreated, and the benchmark measures the host's load instead of the controller.
      "kube-controller-manager": ["--node-monitor-grace-period=30m"],
    },
  });
  try {
    const kc = cp.kubeConfig();
    await installCrd(kc);
    o.log(`creating ${o.nodes} nodes (${o.nodesPerRack} per rack)`);
    // In batches of creates; then one list per second until all are Ready (a poll per node
    // would load the API server the benchmark measures).
    for (let first = 0; first < o.nodes; first += NODE_BATCH) {
      await createGpuNodePool(kc, {
        name: `${POOL}-${first / NODE_BATCH}`,
        count: Math.min(NODE_BATCH, o.nodes - first),
        gpusPerNode: 8,
        gpuProduct: "NVIDIA-H100-80GB-HBM3",
        labels: { rack: (i) => `rack-${Math.floor((first + i) / o.nodesPerRack)}` },
        waitReady: false,
      });
    }
    await waitNodesReady(kc, o.nodes, o.timeoutMs);
    const podsTotal = o.deployments * o.replicas * o.stages;

    // Baseline: the same pods straight to the scheduler.
    const baseNs = await createTestNamespace(kc, "baseline");
    const core = kc.makeApiClient(CoreV1Api);
    const t0 = Date.now();
    await inBatches(podsTotal, 50, (i) =>
      core.createNamespacedPod({ namespace: baseNs, body: plainPod(`p-${i}`, o.gpusPerPod) }),
    );
    await waitAllBound(kc, baseNs, podsTotal, o.timeoutMs);
    const baselineBoundMs = Date.now() - t0;
    o.log(`baseline: ${podsTotal} pods bound in ${baselineBoundMs} ms`);
    await core.deleteNamespace({ name: baseNs });
    await pollUntil(
      "baseline pods gone",
      o.timeoutMs,
      async () => (await core.listNamespacedPod({ namespace: baseNs })).items.length === 0,
      1000,
    );

    const ns = await createTestNamespace(kc, "scale");
    const controller = new Controller({
      kubeConfig: kc,
      config: resolveControllerConfig({
        namespace: ns,
        healthHost: "127.0.0.1",
        healthPort: 0,
        leaderElection: false,
        gangTimeoutMs: 300_000,
      }),
      log: silentLogger,
      onFatal: (err) => o.log(`controller fatal: ${err.message}`),
    });
    await controller.start();
    try {
      const custom = kc.makeApiClient(CustomObjectsApi);
      const t1 = Date.now();
      const cpu0 = process.cpuUsage();
      await inBatches(o.deployments, 20, (i) =>
        custom.createNamespacedCustomObject({
          group: "strata.dev",
          version: "v1alpha1",
          plural: "modeldeployments",
          namespace: ns,
          body: deployment(`md-${i}`, o),
        }),
      );
      await waitAllBound(kc, ns, podsTotal, o.timeoutMs);
      const allBoundMs = Date.now() - t1;
      const cpu = process.cpuUsage(cpu0);
      o.log(
        `controller: ${podsTotal} pods in ${o.deployments * o.replicas} groups bound in ${allBoundMs} ms`,
      );
      await pollUntil(
        "every deployment Available",
        o.timeoutMs,
        async () => {
          const list = (await custom.listNamespacedCustomObject({
            group: "strata.dev",
            version: "v1alpha1",
            plural: "modeldeployments",
            namespace: ns,
          })) as { items: ModelDeployment[] };
          return list.items.every(
            (md) =>
              md.status?.readyReplicas === o.replicas &&
              md.status.conditions?.some((c) => c.type === CONDITION_TYPES.available && c.status === "True"),
          );
        },
        1000,
      );
      const allAvailableMs = Date.now() - t1;
      const split = await groupsSplitAcrossRacks(kc, ns);
      const metrics = await controller.registry.getMetricsAsJSON();
      const reconcile = metrics.find((m) => m.name === "strata_controller_reconcile_duration_seconds");
      const values = (reconcile?.values ?? []) as Array<{
        metricName?: string;
        labels: Record<string, string | number>;
        value: number;
      }>;
      const buckets = values
        .filter((v) => v.metricName?.endsWith("_bucket"))
        .map((v) => ({
          le: v.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(v.labels.le),
          count: v.value,
        }));
      const reconciles = values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
      const results = metrics.find((m) => m.name === CONTROLLER_METRICS.reconciles)?.values ?? [];
      const conflicts = results.find((v) => v.labels.result === "requeue")?.value ?? 0;
      const requests = metrics.find((m) => m.name === CONTROLLER_METRICS.apiRequests)?.values ?? [];
      const writeRequests = requests
        .filter((v) => v.labels.verb !== "list")
        .reduce((sum, v) => sum + v.value, 0);
      return {
        nodes: o.nodes,
        deployments: o.deployments,
        groups: o.deployments * o.replicas,
        pods: podsTotal,
        baselineBoundMs,
        allBoundMs,
        allAvailableMs,
        reconciles,
        conflicts,
        cpuUntilBoundS: (cpu.user + cpu.system) / 1e6,
        reconcileP50Ms: histogramQuantile(0.5, buckets) * 1000,
        reconcileP99Ms: histogramQuantile(0.99, buckets) * 1000,
        writeRequests,
        writeRequestsPerReconcile: reconciles > 0 ? writeRequests / reconciles : Number.NaN,
        groupsSplitAcrossRacks: split,
      };
    } finally {
      await controller.stop();
    }
  } finally {
    await cp.stop();
  }
}

async function installCrd(kc: KubeConfig): Promise<void> {
  // loadYaml maps JSON names (x-kubernetes-validations) to the client's field names; a plain parse would lose them.
  const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(CRD_FILE, "utf8"));
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({ body: crd });
  await pollUntil("CRD established", 30_000, async () => {
    const got = await ext.readCustomResourceDefinition({ name: crd.metadata?.name ?? "" });
    return (got.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
  });
}

function deployment(name: string, o: ScaleOptions) {
  return {
    apiVersion: MODEL_DEPLOYMENT_API_VERSION,
    kind: "ModelDeployment",
    metadata: { name },
    spec: {
      model: {
        architecture: { layers: 80, attentionHeads: 64, kvHeads: 8 },
        source: { uri: "https://models.invalid/m" },
        servedName: name,
      },
      engine: "vllm",
      parallelism: { mode: "explicit", tp: o.gpusPerPod, pp: o.stages },
      replicas: o.replicas,
      gpu: { type: "h100-sxm-80g", perNode: 8 },
    },
  };
}

function plainPod(name: string, gpus: number): V1Pod {
  return {
    metadata: { name },
    spec: {
      containers: [
        {
          name: "w",
          image: "registry.invalid/w:1",
          resources: { limits: { "nvidia.com/gpu": String(gpus) } },
        },
      ],
      tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    },
  };
}

async function waitAllBound(
  kc: KubeConfig,
  namespace: string,
  want: number,
  timeoutMs: number,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await pollUntil(
    `${want} pods bound in ${namespace}`,
    timeoutMs,
    async () => {
      const pods = (await core.listNamespacedPod({ namespace })).items;
      return pods.length === want && pods.every((p) => !!p.spec?.nodeName);
    },
    500,
  );
}

/** Every node Ready and without the node controller's not-ready taints. */
async function waitNodesReady(kc: KubeConfig, want: number, timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await pollUntil(
    `${want} nodes Ready`,
    timeoutMs,
    async () => {
      const nodes = (await core.listNode()).items;
      const ready = nodes.filter(
        (n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") &&
          !(n.spec?.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/")),
      );
      return ready.length >= want;
    },
    1000,
  );
}

async function groupsSplitAcrossRacks(kc: KubeConfig, namespace: string): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const [pods, nodes] = await Promise.all([core.listNamespacedPod({ namespace }), core.listNode()]);
  const rackOf = new Map(nodes.items.map((n) => [n.metadata?.name, n.metadata?.labels?.["strata.dev/rack"]]));
  const racks = new Map<string, Set<string | undefined>>();
  for (const p of pods.items) {
    const group = `${p.metadata?.labels?.[LABELS.deployment]}/${p.metadata?.labels?.[LABELS.replica]}`;
    racks.set(group, (racks.get(group) ?? new Set()).add(rackOf.get(p.spec?.nodeName)));
  }
  return [...racks.values()].filter((r) => r.size > 1).length;
}

async function inBatches(n: number, size: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < n; start += size) {
    await Promise.all(Array.from({ length: Math.min(size, n - start) }, (_, k) => fn(start + k)));
  }
}
