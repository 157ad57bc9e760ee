import { existsSync } from "node:fs";
import {
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Affinity,
  type V1Pod,
  type V1Toleration,
  VersionApi,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ControlPlane,
  createGpuNodePool,
  createTestNamespace,
  failPod,
  GPU_RESOURCE,
  KUBERNETES_VERSION,
  NODE_LABELS,
  pollUntil,
  serviceAccountKubeconfig,
  setNodeNotReady,
  startControlPlane,
} from "./index.js";

// One control plane for the file; every test makes its own namespace and its
// own node pool (pods select it), so tests never compete for GPUs.

const H100 = "NVIDIA-H100-80GB-HBM3";
const WAIT_MS = 60_000;
/** Pod GC removes pods of a deleted node after a 40 s quarantine, checked every 20 s (pkg/controller/podgc). */
const POD_GC_WAIT_MS = 120_000;

let cp: ControlPlane;
let kc: KubeConfig;
let core: CoreV1Api;

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await cp?.stop();
});

function gpuPod(
  name: string,
  pool: string,
  gpus: number,
  extra: {
    labels?: Record<string, string>;
    affinity?: V1Affinity;
    selector?: Record<string, string>;
    tolerations?: V1Toleration[];
  } = {},
): V1Pod {
  return {
    metadata: { name, labels: extra.labels ?? {} },
    spec: {
      nodeSelector: extra.selector ?? { [NODE_LABELS.pool]: pool },
      containers: [
        {
          name: "worker",
          image: "registry.invalid/strata/shard-worker:test",
          resources: { limits: { [GPU_RESOURCE]: String(gpus) } },
        },
      ],
      ...(extra.affinity ? { affinity: extra.affinity } : {}),
      ...(extra.tolerations ? { tolerations: extra.tolerations } : {}),
    },
  };
}

async function waitForPhase(namespace: string, name: string, phase: string): Promise<V1Pod> {
  let pod: V1Pod | undefined;
  await pollUntil(`pod ${namespace}/${name} ${phase}`, WAIT_MS, async () => {
    pod = await core.readNamespacedPod({ namespace, name });
    return pod.status?.phase === phase;
  });
  if (pod === undefined) throw new Error("unreachable");
  return pod;
}

describe("Kubernetes test harness", () => {
  it("serves the pinned Kubernetes version", async () => {
    const info = await kc.makeApiClient(VersionApi).getCode();
    expect(info.gitVersion).toBe(KUBERNETES_VERSION);
  });

  it("binds a pod requesting 8 GPUs to a fake 8-GPU node, where it runs", async () => {
    const ns = await createTestNamespace(kc, "gpu8");
    const nodes = await createGpuNodePool(kc, { name: "gpu8", count: 1, gpusPerNode: 8, gpuProduct: H100 });
    await core.createNamespacedPod({ namespace: ns, body: gpuPod("stage-0", "gpu8", 8) });
    const pod = await waitForPhase(ns, "stage-0", "Running");
    expect(pod.spec?.nodeName).toBe(nodes[0]);
    expect(pod.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    const node = await core.readNode({ name: nodes[0] ?? "" });
    expect(node.status?.allocatable?.[GPU_RESOURCE]).toBe("8");
    expect(node.metadata?.labels?.[NODE_LABELS.gpuProduct]).toBe(H100);
  });

  it("leaves a pod requesting 9 GPUs Pending, with the scheduler's reason in its events", async () => {
    const ns = await createTestNamespace(kc, "gpu9");
    await createGpuNodePool(kc, { name: "gpu9", count: 2, gpusPerNode: 8, gpuProduct: H100 });
    await core.createNamespacedPod({ namespace: ns, body: gpuPod("too-big", "gpu9", 9) });
    let message = "";
    await pollUntil("a FailedScheduling event", WAIT_MS, async () => {
      const events = await core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: "involvedObject.name=too-big,reason=FailedScheduling",
      });
      message = events.items[0]?.message ?? "";
      return message !== "";
    });
    expect(message).toContain(`Insufficient ${GPU_RESOURCE}`);
    const pod = await core.readNamespacedPod({ namespace: ns, name: "too-big" });
    expect(pod.status?.phase).toBe("Pending");
    expect(pod.spec?.nodeName).toBeUndefined();
  });

  it("places two pods with required pod affinity on the rack label in the same rack", async () => {
    const ns = await createTestNamespace(kc, "affinity");
    // rack-a is tainted PreferNoSchedule and the second pod prefers rack-b, so
    // without the required affinity the scheduler would put it in rack-b.
    const scenario = { "strata.dev/test-scenario": "affinity" };
    const crowded = { key: "strata.dev/test-crowded", value: "true", effect: "PreferNoSchedule" };
    for (const rack of ["rack-a", "rack-b"]) {
      await createGpuNodePool(kc, {
        name: rack,
        count: 2,
        gpusPerNode: 8,
        gpuProduct: H100,
        labels: { zone: `zone-${rack}`, rack, nvlinkDomain: (i) => `${rack}-nvl-${i}` },
        extraLabels: scenario,
        ...(rack === "rack-a" ? { taints: [crowded] } : {}),
      });
    }
    const group = { "strata.dev/group": "g1" };
    const sameRack: V1Affinity["podAffinity"] = {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: group }, topologyKey: NODE_LABELS.rack },
      ],
    };
    const inRackA: V1Affinity["nodeAffinity"] = {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: NODE_LABELS.rack, operator: "In", values: ["rack-a"] }] },
        ],
      },
    };
    const preferRackB: V1Affinity["nodeAffinity"] = {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          preference: { matchExpressions: [{ key: NODE_LABELS.rack, operator: "In", values: ["rack-b"] }] },
        },
      ],
    };
    const head = gpuPod("stage-0", "", 8, {
      labels: group,
      selector: scenario,
      affinity: { podAffinity: sameRack, nodeAffinity: inRackA },
      tolerations: [{ key: crowded.key, operator: "Exists" }],
    });
    await core.createNamespacedPod({ namespace: ns, body: head });
    await waitForPhase(ns, "stage-0", "Running");
    await core.createNamespacedPod({
      namespace: ns,
      body: gpuPod("stage-1", "", 8, {
        labels: group,
        selector: scenario,
        affinity: { podAffinity: sameRack, nodeAffinity: preferRackB },
      }),
    });
    const pods = await Promise.all(["stage-0", "stage-1"].map((name) => waitForPhase(ns, name, "Running")));
    const nodes = await Promise.all(pods.map((p) => core.readNode({ name: p.spec?.nodeName ?? "" })));
    expect(nodes[1]?.metadata?.name).not.toBe(nodes[0]?.metadata?.name);
    expect(nodes.map((n) => n.metadata?.labels?.[NODE_LABELS.rack])).toEqual(["rack-a", "rack-a"]);
  });

  it("removes a pod through the real controllers when its node is deleted", async () => {
    const ns = await createTestNamespace(kc, "nodegone");
    const [node] = await createGpuNodePool(kc, {
      name: "doomed",
      count: 1,
      gpusPerNode: 8,
      gpuProduct: H100,
    });
    await core.createNamespacedPod({ namespace: ns, body: gpuPod("orphan", "doomed", 8) });
    const pod = await waitForPhase(ns, "orphan", "Running");
    expect(pod.spec?.nodeName).toBe(node);
    await core.deleteNode({ name: node ?? "" });
    await pollUntil(
      "pod GC to delete the orphaned pod",
      POD_GC_WAIT_MS,
      async () => {
        const pods = await core.listNamespacedPod({ namespace: ns });
        return pods.items.length === 0;
      },
      1_000,
    );
  });

  it("fails a pod on demand", async () => {
    const ns = await createTestNamespace(kc, "failpod");
    await createGpuNodePool(kc, { name: "failpod", count: 1, gpusPerNode: 8, gpuProduct: H100 });
    await core.createNamespacedPod({ namespace: ns, body: gpuPod("crashy", "failpod", 4) });
    await waitForPhase(ns, "crashy", "Running");
    await failPod(kc, { namespace: ns, name: "crashy", reason: "OOMKilled", message: "CUDA out of memory" });
    const pod = await waitForPhase(ns, "crashy", "Failed");
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(1);
    expect(terminated?.reason).toBe("OOMKilled");
  });

  it("makes a node NotReady on demand, and the node lifecycle controller taints it", async () => {
    const [node] = await createGpuNodePool(kc, { name: "flaky", count: 1, gpusPerNode: 8, gpuProduct: H100 });
    await setNodeNotReady(kc, node ?? "");
    await pollUntil("the not-ready taint", WAIT_MS, async () => {
      const n = await core.readNode({ name: node ?? "" });
      return (n.spec?.taints ?? []).some((t) => t.key === "node.kubernetes.io/not-ready");
    });
  });

  it("gives a ServiceAccount kubeconfig exactly its ClusterRole's permissions", async () => {
    const ns = await createTestNamespace(kc, "rbac");
    await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRole({
      body: {
        metadata: { name: "strata-test-pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
      },
    });
    const yaml = await serviceAccountKubeconfig(kc, {
      namespace: ns,
      name: "reader",
      clusterRoleName: "strata-test-pod-reader",
    });
    const limited = new KubeConfig();
    limited.loadFromString(yaml);
    const asReader = limited.makeApiClient(CoreV1Api);
    // RBAC bindings reach the authorizer's cache shortly after they are written.
    await pollUntil("the binding to take effect", WAIT_MS, async () => {
      await asReader.listNamespacedPod({ namespace: ns });
      return true;
    });
    await expect(asReader.listNode()).rejects.toMatchObject({ code: 403 });
    await expect(
      asReader.createNamespacedPod({ namespace: ns, body: gpuPod("nope", "none", 1) }),
    ).rejects.toMatchObject({
      code: 403,
    });
  });

  it("stops every component and removes its directory", async () => {
    const pids = cp.components.map((c) => c.pid);
    await cp.stop();
    expect(existsSync(cp.dir)).toBe(false);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
