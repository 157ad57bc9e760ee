import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  loadYaml,
  makeInformer,
  type V1CustomResourceDefinition,
  type V1Pod,
} from "@kubernetes/client-node";
import { CONDITION_TYPES, LABELS, MODEL_DEPLOYMENT_API_VERSION, type ModelDeployment } from "@strata/core";
import {
  type ControlPlane,
  createGpuNodePool,
  createTestNamespace,
  pollUntil,
  startControlPlane,
} from "@strata/test/k8s";
import { ControllerProcess, STRATA_BIN } from "./controller-process.js";
import { histogramQuantile } from "./figures.js";
import { apiRequestCounts, apiserverCpuProfile, CpuMeter, difference } from "./meters.js";
import { strataPods } from "./strata-pods.js";

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
  /** Baseline and controller phases, each round on the same cluster (a fresh namespace each). */
  readonly rounds: number;
  /**
   * Adds a second baseline each round: the controller's own pod objects (built
   * by the same code, each group's pods naming one rack's nodes) created
   * directly, so a run tells how much of the gap is the pods' content.
   */
  readonly strataPodsBaseline: boolean;
  /**
   * kube-scheduler's client rate (`--kube-api-qps`, and the same burst). Unset,
   * the scheduler's default (50 per second, burst 100) caps binds, and with
   * them the baseline, at about 50 pods a second.
   */
  readonly schedulerQps?: number;
  /** Where `strata controller` writes a V8 CPU profile of each controller phase, if anywhere. */
  readonly controllerCpuProfileDir?: string;
  /**
   * Where kube-apiserver's Go CPU profiles go, if anywhere: the first
   * `APISERVER_PROFILE_SECONDS` of each baseline phase and of this build's controller phase.
   */
  readonly apiserverCpuProfileDir?: string;
  /**
   * Another build's `cli/bin/strata.js`: each round then also times that
   * build's controller on the same cluster, the two taking turns going first,
   * so a change is compared with the code before it under the same load.
   */
  readonly compareCli?: string;
  readonly log: (line: string) => void;
}

export interface ScaleFigures {
  readonly nodes: number;
  readonly deployments: number;
  readonly groups: number;
  readonly pods: number;
  readonly baselineBoundMs: number;
  /** The second baseline, when asked for: the controller's pods created directly. */
  readonly strataPodsBoundMs?: number;
  readonly allBoundMs: number;
  /** When the benchmark had created every ModelDeployment, and when the last pod appeared (100 ms polls). */
  readonly deploymentsCreatedMs: number;
  readonly podsCreatedMs: number;
  readonly allAvailableMs: number;
  readonly reconciles: number;
  /** Reconciles whose status write lost to a newer version (a conflict) and ran again. */
  readonly conflicts: number;
  /** Reconciles that failed (an API error): the controller logs them; this benchmark runs it silent. */
  readonly reconcileErrors: number;
  /** CPU seconds of the `strata controller` process until every group was bound. */
  readonly cpuUntilBoundS: number;
  readonly reconcileP50Ms: number;
  readonly reconcileP99Ms: number;
  readonly writeRequests: number;
  readonly writeRequestsPerReconcile: number;
  readonly groupsSplitAcrossRacks: number;
  /** CPU seconds of each process (control-plane components, and this one: controller + benchmark) per phase. */
  readonly cpuBaselineS: Readonly<Record<string, number>>;
  readonly cpuControllerS: Readonly<Record<string, number>>;
  /** Requests the API server served per phase, by verb and resource (its apiserver_request_total). */
  readonly requestsBaseline: Readonly<Record<string, number>>;
  readonly requestsController: Readonly<Record<string, number>>;
  /** The other build's controller phase in the same round (`compareCli`). */
  readonly compared?: { readonly allBoundMs: number; readonly cpuUntilBoundS: number };
}

const CRD_FILE = fileURLToPath(
  new URL("../../../deploy/helm/strata/crds/modeldeployments.yaml", import.meta.url),
);
const POOL = "scale";
const APISERVER_PROFILE_SECONDS = 8;
const NODE_BATCH = 100;

export async function runScaleBench(o: ScaleOptions): Promise<ScaleFigures[]> {
  const cp = await startControlPlane({
    extraArgs: {
      "kube-apiserver": [
        "--max-requests-inflight=800",
        "--max-mutating-requests-inflight=400",
        // The harness turns /debug/pprof off; a later flag wins.
        ...(o.apiserverCpuProfileDir ? ["--profiling=true"] : []),
      ],
      // On a loaded host kwok renews a thousand node leases late; with the default grace the
      // node controller then taints nodes NotReady mid-run, pods go unschedulable and groups
      // are recreated, and the benchmark measures the host's load instead of the controller.
      "kube-controller-manager": ["--node-monitor-grace-period=30m"],
      ...(o.schedulerQps
        ? { "kube-scheduler": [`--kube-api-qps=${o.schedulerQps}`, `--kube-api-burst=${o.schedulerQps}`] }
        : {}),
    },
  });
  try {
    const kc = cp.kubeConfig();
    await installCrd(kc);
    o.log(`creating ${o.nodes} nodes (${o.nodesPerRack} per rack)`);
    // In batches of creates; then one list per second until all are Ready (a poll per node
    // would load the API server the benchmark measures).
    const nodeNames: string[] = [];
    for (let first = 0; first < o.nodes; first += NODE_BATCH) {
      const batch = await createGpuNodePool(kc, {
        name: `${POOL}-${first / NODE_BATCH}`,
        count: Math.min(NODE_BATCH, o.nodes - first),
        gpusPerNode: 8,
        gpuProduct: "NVIDIA-H100-80GB-HBM3",
        labels: { rack: (i) => `rack-${Math.floor((first + i) / o.nodesPerRack)}` },
        waitReady: false,
      });
      nodeNames.push(...batch);
    }
    await waitNodesReady(kc, o.nodes, o.timeoutMs);
    const rounds: ScaleFigures[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      if (o.rounds > 1) o.log(`round ${round} of ${o.rounds}`);
      rounds.push(await runRound(cp, kc, o, nodeNames, round));
    }
    return rounds;
  } finally {
    await cp.stop();
  }
}

/** A baseline phase and a controller phase (two with `compareCli`), each in its own namespace, removed after. */
async function runRound(
  cp: ControlPlane,
  kc: KubeConfig,
  o: ScaleOptions,
  nodeNames: readonly string[],
  round: number,
): Promise<ScaleFigures> {
  const podsTotal = o.deployments * o.replicas * o.stages;

  // Baseline: the same pods straight to the scheduler.
  const baseNs = await createTestNamespace(kc, "baseline");
  const core = kc.makeApiClient(CoreV1Api);
  const cpuMeter = new CpuMeter(cp.components);
  const requests0 = await apiRequestCounts(kc);
  const profile = apiserverProfile(kc, o, `round${round}-baseline`);
  const t0 = Date.now();
  await inBatches(podsTotal, 50, (i) =>
    core.createNamespacedPod({ namespace: baseNs, body: plainPod(`p-${i}`, o.gpusPerPod) }),
  );
  await waitAllBound(kc, baseNs, podsTotal, o.timeoutMs);
  const baselineBoundMs = Date.now() - t0;
  const cpuBaselineS = cpuMeter.since();
  const requestsBaseline = difference(await apiRequestCounts(kc), requests0);
  o.log(`baseline: ${podsTotal} pods bound in ${baselineBoundMs} ms`);
  await profile;
  await removeNamespace(kc, baseNs, o.timeoutMs);
  const strataPodsBoundMs = o.strataPodsBaseline ? await strataPodsBaseline(kc, o, nodeNames) : undefined;

  // With another build to compare, the two controller phases take turns going first.
  const other = o.compareCli;
  const otherFirst = other !== undefined && round % 2 === 0;
  const before = otherFirst ? await controllerPhase(cp, kc, o, other) : undefined;
  const mine = await controllerPhase(cp, kc, o, STRATA_BIN, round);
  const after = other !== undefined && !otherFirst ? await controllerPhase(cp, kc, o, other) : undefined;
  const compared = before ?? after;
  return {
    nodes: o.nodes,
    deployments: o.deployments,
    groups: o.deployments * o.replicas,
    pods: podsTotal,
    baselineBoundMs,
    ...(strataPodsBoundMs !== undefined ? { strataPodsBoundMs } : {}),
    cpuBaselineS,
    requestsBaseline,
    ...mine,
    ...(compared
      ? { compared: { allBoundMs: compared.allBoundMs, cpuUntilBoundS: compared.cpuUntilBoundS } }
      : {}),
  };
}

type ControllerPhase = Omit<
  ScaleFigures,
  | "nodes"
  | "deployments"
  | "groups"
  | "pods"
  | "baselineBoundMs"
  | "strataPodsBoundMs"
  | "cpuBaselineS"
  | "requestsBaseline"
  | "compared"
>;

/** `o.deployments` ModelDeployments for one `strata controller` (this build's or `strataBin`), timed until every group is bound. */
async function controllerPhase(
  cp: ControlPlane,
  kc: KubeConfig,
  o: ScaleOptions,
  strataBin: string,
  round?: number,
): Promise<ControllerPhase> {
  const podsTotal = o.deployments * o.replicas * o.stages;
  const mineToProfile = strataBin === STRATA_BIN;
  const who = mineToProfile ? "controller" : "other build";
  const ns = await createTestNamespace(kc, "scale");
  const controller = await ControllerProcess.start(
    cp.kubeconfigPath,
    ns,
    mineToProfile ? o.controllerCpuProfileDir : undefined,
    strataBin,
  );
  try {
    const custom = kc.makeApiClient(CustomObjectsApi);
    o.log(`${who}: creating ${o.deployments} ModelDeployments`);
    const meter = new CpuMeter([...cp.components, { name: "strata controller", pid: controller.pid }]);
    const requests1 = await apiRequestCounts(kc);
    const profile = mineToProfile ? apiserverProfile(kc, o, `round${round}-controller`) : undefined;
    const t1 = Date.now();
    await inBatches(o.deployments, 20, (i) =>
      custom.createNamespacedCustomObject({
        group: "strata.dev",
        version: "v1alpha1",
        plural: "modeldeployments",
        namespace: ns,
        body: deployment(`md-${i}`, o),
      }),
    );
    const deploymentsCreatedMs = Date.now() - t1;
    const { allCreatedAtMs } = await waitAllBound(kc, ns, podsTotal, o.timeoutMs);
    const allBoundMs = Date.now() - t1;
    const podsCreatedMs = allCreatedAtMs - t1;
    const cpuControllerS = meter.since();
    const requestsController = difference(await apiRequestCounts(kc), requests1);
    o.log(`${who}: ${podsTotal} pods in ${o.deployments * o.replicas} groups bound in ${allBoundMs} ms`);
    await profile;
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
    const m = await controller.metrics();
    for (const line of controller.warnings().slice(0, 3)) o.log(`${who}: ${line}`);
    const reconciles = m.reconciles;
    const conflicts = m.reconcilesByResult.requeue ?? 0;
    const reconcileErrors = m.reconcilesByResult.error ?? 0;
    const writeRequests = Object.entries(m.apiRequestsByVerb)
      .filter(([verb]) => verb !== "list")
      .reduce((sum, [, n]) => sum + n, 0);
    return {
      allBoundMs,
      deploymentsCreatedMs,
      podsCreatedMs,
      allAvailableMs,
      reconciles,
      conflicts,
      reconcileErrors,
      cpuUntilBoundS: cpuControllerS["strata controller"] ?? Number.NaN,
      reconcileP50Ms: histogramQuantile(0.5, m.reconcileBuckets) * 1000,
      reconcileP99Ms: histogramQuantile(0.99, m.reconcileBuckets) * 1000,
      writeRequests,
      writeRequestsPerReconcile: reconciles > 0 ? writeRequests / reconciles : Number.NaN,
      groupsSplitAcrossRacks: split,
      cpuControllerS,
      requestsController,
    };
  } finally {
    await controller.stop();
    await removeNamespace(kc, ns, o.timeoutMs);
  }
}

/**
 * Starts kube-apiserver's CPU profile for `--apiserver-cpu-prof`; resolves once
 * it is written, or logs why not (a failed profile does not end the run).
 */
async function apiserverProfile(kc: KubeConfig, o: ScaleOptions, label: string): Promise<void> {
  if (!o.apiserverCpuProfileDir) return;
  const file = join(o.apiserverCpuProfileDir, `apiserver-${label}.pprof`);
  try {
    mkdirSync(o.apiserverCpuProfileDir, { recursive: true });
    await apiserverCpuProfile(kc, APISERVER_PROFILE_SECONDS, file);
    o.log(`kube-apiserver CPU profile: ${file}`);
  } catch (err) {
    o.log(`kube-apiserver CPU profile ${label}: ${(err as Error).message}`);
  }
}

/**
 * Deletes a namespace and waits until it is gone with everything in it (pods,
 * Services, their Endpoints and EndpointSlices), so the next phase neither
 * starts on busy nodes nor shares the API server with the clean-up.
 */
async function removeNamespace(kc: KubeConfig, namespace: string, timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespace({ name: namespace });
  await pollUntil(
    `namespace ${namespace} gone`,
    timeoutMs,
    async () => {
      try {
        await core.readNamespace({ name: namespace });
        return false;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return true;
        throw err;
      }
    },
    1000,
  );
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

/** The controller's pods created directly, timed until all are bound (see `strataPods`). */
async function strataPodsBaseline(kc: KubeConfig, o: ScaleOptions, nodeNames: readonly string[]) {
  const namespace = await createTestNamespace(kc, "baseline-strata");
  const core = kc.makeApiClient(CoreV1Api);
  const pods = strataPods(deployment("x", o).spec, o, nodeNames, namespace);
  const t0 = Date.now();
  await inBatches(pods.length, 50, (i) => core.createNamespacedPod({ namespace, body: pods[i] as V1Pod }));
  await waitAllBound(kc, namespace, pods.length, o.timeoutMs);
  const boundMs = Date.now() - t0;
  o.log(`baseline with the controller's pods: ${pods.length} pods bound in ${boundMs} ms`);
  await removeNamespace(kc, namespace, o.timeoutMs);
  return boundMs;
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

/**
 * Waits on a watch, not by listing: a list of every pod twice a second loads the
 * API server and this process (which runs the controller) with the measurement itself.
 */
async function waitAllBound(
  kc: KubeConfig,
  namespace: string,
  want: number,
  timeoutMs: number,
): Promise<{ allCreatedAtMs: number }> {
  const core = kc.makeApiClient(CoreV1Api);
  const pods = makeInformer(kc, `/api/v1/namespaces/${namespace}/pods`, () =>
    core.listNamespacedPod({ namespace }),
  );
  await pods.start();
  let allCreatedAtMs = Number.NaN;
  try {
    await pollUntil(
      `${want} pods bound in ${namespace}`,
      timeoutMs,
      async () => {
        const list = pods.list(namespace);
        if (list.length >= want && Number.isNaN(allCreatedAtMs)) allCreatedAtMs = Date.now();
        return list.length === want && list.every((p) => !!p.spec?.nodeName);
      },
      100,
    );
  } finally {
    await pods.stop();
  }
  return { allCreatedAtMs };
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
