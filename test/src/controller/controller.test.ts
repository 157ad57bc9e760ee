import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Controller } from "@strata/controller";
import {
  CONDITION_TYPES,
  LABELS,
  type ModelDeploymentSpecInput,
  parseWorkerEnv,
  REASONS,
} from "@strata/core";
import { vllmGroupPlan, vllmServeCommand } from "@strata/shard-worker";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ControlPlane,
  createGpuNodePool,
  createTestNamespace,
  NODE_LABELS,
  pollUntil,
  startControlPlane,
} from "../k8s/index.js";
import {
  Deployments,
  groupAvailable,
  installChartCrdAndRole,
  smallSpec,
  startController,
} from "./fixture.js";
import { startControllerProcess } from "./processes.js";

// The controller on the real control plane (etcd, kube-apiserver, scheduler,
// controller-manager, kwok GPU nodes). Each scenario has its own namespace,
// its own node pool and its own controller scoped to that namespace, running
// as a ServiceAccount bound to the chart's ClusterRole.

const H100 = "NVIDIA-H100-80GB-HBM3";
const WAIT_MS = 60_000;

let cp: ControlPlane;
let admin: KubeConfig;
const controllers: Controller[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  admin = cp.kubeConfig();
  await installChartCrdAndRole(admin);
});

afterAll(async () => {
  await Promise.allSettled(controllers.map((c) => c.stop()));
  await cp?.stop();
});

interface Scenario {
  readonly ns: string;
  readonly pool: string;
  readonly mds: Deployments;
  readonly controller: Controller;
}

/** A namespace, a node pool of `nodes` 8-GPU nodes with the given racks, and a controller. */
async function scenario(prefix: string, racks: readonly string[]): Promise<Scenario> {
  const ns = await createTestNamespace(admin, prefix);
  const pool = ns;
  await createGpuNodePool(admin, {
    name: pool,
    count: racks.length,
    gpusPerNode: 8,
    gpuProduct: H100,
    labels: { rack: (i) => `${pool}-${racks[i]}` },
  });
  const { controller } = await startController(admin, ns);
  controllers.push(controller);
  return { ns, pool, mds: new Deployments(admin, ns), controller };
}

const onPool = (pool: string, spec: ModelDeploymentSpecInput): ModelDeploymentSpecInput => ({
  ...spec,
  gpu: { ...spec.gpu, type: spec.gpu?.type ?? "h100-sxm-80g", nodeSelector: { [NODE_LABELS.pool]: pool } },
});

const conditionOf = (md: Parameters<Deployments["condition"]>[0], type: string) =>
  md.status?.conditions?.find((c) => c.type === type);
const uids = (pods: readonly V1Pod[] | undefined) => (pods ?? []).map((p) => p.metadata?.uid).sort();

describe("ModelDeployment controller", () => {
  it("runs 405B bf16 auto on two 8×H100 nodes as one group of 2 pods in one rack, and reports the plan", async () => {
    // Two nodes in rack a and a lone node in rack b: a group split across racks would be a bug.
    const s = await scenario("md-405b", ["a", "a", "b"]);
    await s.mds.create(
      "llama",
      onPool(s.pool, {
        model: {
          catalog: "llama-3.1-405b",
          source: { uri: "s3://models.invalid/llama-3.1-405b-instruct" },
          servedName: "llama-3.1-405b",
        },
        engine: "vllm",
        dtype: "bf16",
        gpu: { type: "h100-sxm-80g", perNode: 8 },
      }),
    );
    const md = await s.mds.waitFor(
      "Available",
      "llama",
      WAIT_MS,
      (m) => s.mds.condition(m, CONDITION_TYPES.available)?.status === "True",
    );
    expect(md.status?.plan).toMatchObject({ tp: 8, pp: 2, gpusPerGroup: 16 });
    expect(md.status?.plan?.stages[0]?.layers.first).toBe(0);
    expect(md.status?.plan?.stages[1]?.layers.last).toBe(125);
    expect(md.status?.readyReplicas).toBe(1);
    const pods = (await s.mds.groups("llama")).get(0) ?? [];
    expect(pods.map((p) => p.metadata?.labels?.[LABELS.stage]).sort()).toEqual(["0", "1"]);
    const core = admin.makeApiClient(CoreV1Api);
    const nodes = await Promise.all(pods.map((p) => core.readNode({ name: p.spec?.nodeName ?? "" })));
    expect(new Set(nodes.map((n) => n.metadata?.labels?.[NODE_LABELS.rack]))).toEqual(
      new Set([`${s.pool}-a`]),
    );
    expect(new Set(nodes.map((n) => n.metadata?.name)).size).toBe(2);
    // The deployment's headless Service (stage DNS; the gateway finds the head in its EndpointSlices); the
    // deployment's token Secret, which the vLLM group link between the head and
    // every stage checks (vLLM's own rendezvous carries the activations).
    const services = await core.listNamespacedService({ namespace: s.ns });
    expect(services.items.map((x) => x.metadata?.name).sort()).toEqual(["llama-stages"]);
    const secrets = await core.listNamespacedSecret({
      namespace: s.ns,
      labelSelector: `${LABELS.deployment}=llama`,
    });
    expect(secrets.items.map((x) => x.metadata?.name)).toEqual(["llama-tunnel"]);

    // Deleting the deployment removes everything it owns (garbage collector, owner references).
    await s.mds.delete("llama");
    await expectEventually("pods, Services and Secret gone", async () => {
      const [pods2, svcs, secrets] = await Promise.all([
        s.mds.pods("llama"),
        core.listNamespacedService({ namespace: s.ns }),
        core.listNamespacedSecret({ namespace: s.ns, labelSelector: `${LABELS.deployment}=llama` }),
      ]);
      return pods2.length === 0 && svcs.items.length === 0 && secrets.items.length === 0;
    });
  }, 180_000);

  it("with GPUs for 2 of 3 groups runs two, holds no GPUs for the third and says why; new nodes bring it up", async () => {
    const s = await scenario("md-capacity", ["a", "a"]);
    await s.mds.create("small", onPool(s.pool, smallSpec({ replicas: 3 })));
    const md = await s.mds.waitFor(
      "two groups available",
      "small",
      WAIT_MS,
      (m) => m.status?.readyReplicas === 2,
    );
    // llama.cpp over two stages: the stages' tunnel takes a token from the deployment's Secret.
    const secret = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ namespace: s.ns, name: "small-tunnel" });
    expect(Buffer.from(secret.data?.["tunnel-token"] ?? "", "base64").length).toBeGreaterThanOrEqual(32);
    const scheduled = s.mds.condition(md, CONDITION_TYPES.scheduled);
    expect(scheduled?.status).toBe("False");
    expect(scheduled?.reason).toBe(REASONS.insufficientCapacity);
    expect(scheduled?.message).toContain("group 2: needs 2 pods × 4 nvidia.com/gpu in one strata.dev/rack");
    const groups = await s.mds.groups("small");
    expect(groups.get(2) ?? []).toEqual([]);
    expect(md.status?.groups?.find((g) => g.replica === 2)?.phase).toBe("Pending");

    await createGpuNodePool(admin, {
      name: `${s.pool}-more`,
      count: 1,
      gpusPerNode: 8,
      gpuProduct: H100,
      labels: { rack: `${s.pool}-a` },
      extraLabels: { [NODE_LABELS.pool]: s.pool },
    });
    const after = await s.mds.waitFor(
      "three groups available",
      "small",
      WAIT_MS,
      (m) => m.status?.readyReplicas === 3,
    );
    expect(s.mds.condition(after, CONDITION_TYPES.scheduled)?.status).toBe("True");
  }, 180_000);

  it("gives a partly bound group's GPUs back after the gang timeout and retries with backoff", async () => {
    // The nodes have the GPUs but room for one pod each: admission (which counts GPUs) lets the
    // group in, the scheduler binds only two of its three pods.
    const ns = await createTestNamespace(admin, "md-gang");
    await createGpuNodePool(admin, {
      name: ns,
      count: 2,
      gpusPerNode: 8,
      gpuProduct: H100,
      pods: 1,
      labels: { rack: `${ns}-a` },
    });
    const { controller } = await startController(admin, ns, { gangTimeoutMs: 8_000 });
    controllers.push(controller);
    const mds = new Deployments(admin, ns);
    await mds.create("small", onPool(ns, smallSpec({ parallelism: { mode: "explicit", tp: 4, pp: 3 } })));
    await expectEventually(
      "two of three pods bound",
      async () => (await mds.pods("small")).filter((p) => p.spec?.nodeName).length === 2,
    );
    const md = await mds.waitFor(
      "gang timeout",
      "small",
      WAIT_MS,
      (m) => (m.status?.groups?.[0]?.attempts ?? 0) >= 1,
    );
    // Backing off, its pods still terminating (Recreating), or already the next attempt.
    expect(md.status?.groups?.[0]?.phase).toMatch(/Backoff|Recreating|Scheduling/);
    expect(conditionOf(md, CONDITION_TYPES.scheduled)?.reason).toMatch(/GangTimeout|GroupCreated/);
    expect((await mds.events(REASONS.gangTimeout)).join("\n")).toMatch(
      /group 0: 2 of 3 pods bound after \d+s/,
    );
    // Between attempts no pod of the group is left holding GPUs.
    await expectEventually(
      "the group's pods all gone between attempts",
      async () => (await mds.pods("small")).length === 0,
      100,
    );
  }, 120_000);

  it("recreates the whole group when one of its pods is killed, and leaves the other group alone", async () => {
    const s = await scenario("md-recover", ["a", "a", "b", "b"]);
    await s.mds.create("small", onPool(s.pool, smallSpec({ replicas: 2 })));
    await s.mds.waitFor("two groups available", "small", WAIT_MS, (m) => m.status?.readyReplicas === 2);
    const before = await s.mds.groups("small");
    const core = admin.makeApiClient(CoreV1Api);
    const statuses = await s.mds.watchStatuses("small");
    await core.deleteNamespacedPod({ namespace: s.ns, name: "small-0-1", gracePeriodSeconds: 0 });

    await expectEventually("group 0 recreated with new pods and available", async () => {
      const now = (await s.mds.groups("small")).get(0);
      const fresh = uids(now).every((u) => !uids(before.get(0)).includes(u));
      return fresh && groupAvailable(now, 2);
    });
    const md = await s.mds.waitFor("available again", "small", WAIT_MS, (m) => m.status?.readyReplicas === 2);
    statuses.stop();
    // Meanwhile the deployment said Degraded, naming the group.
    const degraded = statuses.seen
      .map((m) => s.mds.condition(m, CONDITION_TYPES.degraded))
      .find((c) => c?.status === "True");
    expect(degraded?.message).toMatch(/group 0/);
    expect(s.mds.condition(md, CONDITION_TYPES.degraded)?.status).toBe("False");
    expect(uids((await s.mds.groups("small")).get(1))).toEqual(uids(before.get(1)));
    expect((await s.mds.events(REASONS.groupFailed)).join("\n")).toMatch(
      /group 0: .*recreating the whole group/,
    );
  }, 180_000);

  it("rolls a new image out group by group, never more than maxUnavailable=1 group down", async () => {
    const s = await scenario("md-rollout", ["a", "a", "b", "b", "c", "c"]);
    await s.mds.create(
      "small",
      onPool(s.pool, smallSpec({ replicas: 3, rollout: { maxSurge: 0, maxUnavailable: 1 } })),
    );
    const first = await s.mds.waitFor(
      "three groups available",
      "small",
      WAIT_MS,
      (m) => m.status?.readyReplicas === 3,
    );
    const oldRevision = first.status?.revision;
    await s.mds.patchSpec("small", { images: { worker: "registry.invalid/strata/shard-worker:2" } });

    let minAvailable = 3;
    const images = new Set<string>();
    await expectEventually(
      "every group on the new image and available",
      async () => {
        const groups = await s.mds.groups("small");
        const available = [0, 1, 2].filter((i) => groupAvailable(groups.get(i), 2)).length;
        minAvailable = Math.min(minAvailable, available);
        for (const pods of groups.values())
          for (const p of pods) images.add(p.spec?.containers[0]?.image ?? "");
        const done = [0, 1, 2].every(
          (i) =>
            groupAvailable(groups.get(i), 2) &&
            (groups.get(i) ?? []).every((p) => p.spec?.containers[0]?.image?.endsWith(":2")),
        );
        return done;
      },
      100,
    );
    expect(minAvailable).toBeGreaterThanOrEqual(2);
    expect(images).toContain("registry.invalid/strata/shard-worker:1");
    const md = await s.mds.waitFor(
      "rollout complete",
      "small",
      WAIT_MS,
      (m) => s.mds.condition(m, CONDITION_TYPES.progressing)?.reason === REASONS.rolloutComplete,
    );
    expect(md.status?.revision).not.toBe(oldRevision);
    expect(md.status?.updatedReplicas).toBe(3);
    expect((await s.mds.events(REASONS.rollingUpdate)).length).toBe(3);
  }, 240_000);

  it("scales down through the scale subresource and up through spec.replicas, never touching group 0", async () => {
    const s = await scenario("md-scale", ["a", "a", "b", "b"]);
    await s.mds.create("small", onPool(s.pool, smallSpec({ replicas: 2 })));
    await s.mds.waitFor("two groups", "small", WAIT_MS, (m) => m.status?.readyReplicas === 2);
    const scale = await s.mds.scale("small");
    expect(scale).toMatchObject({
      spec: { replicas: 2 },
      status: { replicas: 2, selector: "strata.dev/deployment=small,strata.dev/stage=0" },
    });
    const keep = uids((await s.mds.groups("small")).get(0));
    await s.mds.setScale("small", 1);
    await expectEventually("group 1 removed", async () => !(await s.mds.groups("small")).has(1));
    expect(uids((await s.mds.groups("small")).get(0))).toEqual(keep);
    await s.mds.patchSpec("small", { replicas: 2 });
    await s.mds.waitFor("two groups again", "small", WAIT_MS, (m) => m.status?.readyReplicas === 2);
    expect(uids((await s.mds.groups("small")).get(0))).toEqual(keep);
  }, 180_000);
});

describe("vLLM stage pods", () => {
  it("renders a vLLM group on the API server: each pod's contract leads to its node's vllm serve flags, /dev/shm sized per GPU, readiness on /readyz", async () => {
    const s = await scenario("md-vllm", ["a", "a"]);
    await s.mds.create(
      "vl",
      onPool(
        s.pool,
        smallSpec({
          engine: "vllm",
          dtype: "bf16",
          model: {
            architecture: { layers: 32, attentionHeads: 32, kvHeads: 8 },
            source: { hostPath: "/srv/models/small-hf" },
            format: "hf",
            servedName: "small",
          },
        }),
      ),
    );
    await s.mds.waitFor("Available", "vl", WAIT_MS, (m) => m.status?.readyReplicas === 1);
    // Read back from the API server: what it accepted is what the kubelet would run.
    const pods = ((await s.mds.groups("vl")).get(0) ?? []).sort(
      (a, b) => Number(a.metadata?.labels?.[LABELS.stage]) - Number(b.metadata?.labels?.[LABELS.stage]),
    );
    expect(pods).toHaveLength(2);
    for (const [stage, pod] of pods.entries()) {
      const container = pod.spec?.containers[0];
      const resolved: Record<string, string> = {};
      for (const v of container?.env ?? []) {
        resolved[v.name] =
          v.value ?? (v.valueFrom?.secretKeyRef ? "token-from-secret" : `10.0.0.${stage + 1}`);
      }
      const config = parseWorkerEnv(resolved);
      expect(config).toMatchObject({
        engine: "vllm",
        stage,
        tensorParallel: 4,
        // The hostPath model under /models at its path on the node, so a message about it names that path.
        modelPath: "/models/srv/models/small-hf",
      });
      expect(config.vllm).toMatchObject({ device: "gpu", gpuMemoryUtilization: 0.9, stepTimeoutSeconds: 60 });
      // What the worker will run: vLLM's multi-node flags from the plan, rank 1 headless.
      const { args, env } = vllmServeCommand(
        vllmGroupPlan(config, { masterAddr: "10.0.0.1", hostIp: `10.0.0.${stage + 1}`, apiPort: 8000 }),
        stage,
      );
      const flag = (name: string) => args[args.indexOf(name) + 1];
      expect(args.slice(0, 2)).toEqual(["serve", "/models/srv/models/small-hf"]);
      expect([flag("--tensor-parallel-size"), flag("--pipeline-parallel-size"), flag("--nnodes")]).toEqual([
        "4",
        "2",
        "2",
      ]);
      expect([flag("--node-rank"), flag("--master-addr"), flag("--master-port")]).toEqual([
        String(stage),
        "10.0.0.1",
        "7070",
      ]);
      expect([flag("--dtype"), flag("--gpu-memory-utilization"), flag("--served-model-name")]).toEqual([
        "bfloat16",
        "0.9",
        "small",
      ]);
      expect(args.includes("--headless")).toBe(stage === 1);
      expect(env).toMatchObject({
        VLLM_PP_LAYER_PARTITION: (await s.mds.get("vl")).status?.plan?.stages
          .map((st) => st.layers.last - st.layers.first + 1)
          .join(","),
        VLLM_HOST_IP: `10.0.0.${stage + 1}`,
        VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS: "60",
      });
      expect(pod.spec?.volumes?.find((v) => v.name === "dshm")?.emptyDir).toEqual({
        medium: "Memory",
        sizeLimit: "8Gi",
      });
      expect(container?.volumeMounts).toContainEqual({ name: "dshm", mountPath: "/dev/shm" });
      expect(container?.readinessProbe?.httpGet?.path).toBe("/readyz");
      expect(pod.spec?.restartPolicy).toBe("Never");
    }
  }, 120_000);
});

describe("leader election", () => {
  it("runs two controllers, one acts; killing the leader hands over within the lease duration", async () => {
    const ns = await createTestNamespace(admin, "md-leader");
    await createGpuNodePool(admin, {
      name: ns,
      count: 4,
      gpusPerNode: 8,
      gpuProduct: H100,
      labels: { rack: `${ns}-a` },
    });
    const mds = new Deployments(admin, ns);
    const a = await startControllerProcess(admin, ns, "ctl-a");
    const b = await startControllerProcess(admin, ns, "ctl-b");
    try {
      await mds.create("first", onPool(ns, smallSpec({ replicas: 1 })));
      await mds.waitFor("available", "first", WAIT_MS, (m) => m.status?.readyReplicas === 1);
      const leader = await a.leaseHolder();
      const [dead, survivor] = leader?.startsWith("ctl-a") ? [a, b] : [b, a];
      expect(leader?.startsWith(dead.identityPrefix)).toBe(true);
      expect(await survivor.isLeader()).toBe(false);

      dead.kill();
      const killedAt = Date.now();
      await pollUntil(
        "the survivor to hold the lease",
        WAIT_MS,
        async () => (await survivor.leaseHolder())?.startsWith(survivor.identityPrefix) ?? false,
      );
      // Lease duration 4 s plus one retry period and polling slack.
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      await mds.create("second", onPool(ns, smallSpec({ replicas: 1 })));
      await mds.waitFor(
        "available, reconciled by the new leader",
        "second",
        WAIT_MS,
        (m) => m.status?.readyReplicas === 1,
      );
      expect(await survivor.isLeader()).toBe(true);
    } finally {
      a.kill();
      b.kill();
    }
  }, 180_000);
});

describe("ModelDeployment validation by the API server", () => {
  let mds: Deployments;
  beforeAll(async () => {
    mds = new Deployments(admin, await createTestNamespace(admin, "md-invalid"));
  });

  const base = smallSpec();
  it.each([
    {
      name: "tp not dividing the attention heads (catalog model)",
      spec: {
        ...base,
        model: { ...base.model, architecture: undefined, catalog: "llama-3.1-405b" },
        parallelism: { mode: "explicit", tp: 3, pp: 2 },
      },
      field: "spec.parallelism.tp",
      says: "tp must divide the model's attention heads",
    },
    {
      name: "tp not dividing the attention heads (architecture)",
      spec: { ...base, parallelism: { mode: "explicit", tp: 6, pp: 2 } },
      field: "spec.parallelism.tp",
      says: "tp must divide",
    },
    {
      name: "unknown engine",
      spec: { ...base, engine: "tgi" },
      field: "spec.engine",
      says: "Unsupported value",
    },
    {
      name: "negative replicas",
      spec: { ...base, replicas: -1 },
      field: "spec.replicas",
      says: "greater than or equal to 0",
    },
    {
      name: "tp above GPUs per node",
      spec: { ...base, parallelism: { mode: "explicit", tp: 16, pp: 2 } },
      field: "spec.parallelism.tp",
      says: "tp cannot exceed gpu.perNode",
    },
    {
      name: "explicit without pp",
      spec: { ...base, parallelism: { mode: "explicit", tp: 4 } },
      field: "spec.parallelism.mode",
      says: "explicit parallelism needs both tp and pp",
    },
  ])("rejects $name naming $field", async ({ spec, field, says }) => {
    const err = await mds
      .create(`bad-${Math.random().toString(36).slice(2, 8)}`, spec as ModelDeploymentSpecInput)
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
    expect(err?.code).toBe(422);
    const message = String((JSON.parse(err?.body ?? "{}") as { message?: string }).message);
    expect(message).toContain(field);
    expect(message).toContain(says);
  });
});

describe("scheduler-plugins PodGroups", () => {
  // The PodGroup CRD changes what a controller started while it exists does:
  // it is removed again (and gone from discovery) before any other test goes on.
  afterEach(async () => {
    await uninstallPodGroupCrd(admin);
  });

  it("creates a PodGroup per group (minMember = pp) and points the pods at it when the API exists", async () => {
    await installPodGroupCrd(admin);
    const s = await scenario("md-podgroup", ["a", "a"]);
    await s.mds.create("small", onPool(s.pool, smallSpec({ replicas: 1 })));
    const custom = admin.makeApiClient(CustomObjectsApi);
    let podGroup: { spec?: { minMember?: number } } | undefined;
    await expectEventually("PodGroup small-0", async () => {
      podGroup = (await custom.getNamespacedCustomObject({
        ...POD_GROUP,
        namespace: s.ns,
        name: "small-0",
      })) as typeof podGroup;
      return podGroup !== undefined;
    });
    expect(podGroup?.spec?.minMember).toBe(2);
    await expectEventually("pods labelled with their PodGroup", async () => {
      const pods = await s.mds.pods("small");
      return (
        pods.length === 2 &&
        pods.every(
          (p) =>
            p.metadata?.labels?.["scheduling.x-k8s.io/pod-group"] === "small-0" &&
            p.spec?.schedulerName === "scheduler-plugins-scheduler",
        )
      );
    });
  }, 120_000);
});

async function expectEventually(
  what: string,
  check: () => Promise<boolean>,
  intervalMs = 250,
): Promise<void> {
  await pollUntil(what, WAIT_MS, check, intervalMs);
}

const POD_GROUP = { group: "scheduling.x-k8s.io", version: "v1alpha1", plural: "podgroups" } as const;

async function uninstallPodGroupCrd(kc: KubeConfig): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const name = "podgroups.scheduling.x-k8s.io";
  await ext.deleteCustomResourceDefinition({ name }).catch(() => undefined);
  await pollUntil("PodGroup CRD removed", 60_000, async () =>
    ext.readCustomResourceDefinition({ name }).then(
      () => false,
      () => true,
    ),
  );
}

/** The PodGroup CRD's names (https://github.com/kubernetes-sigs/scheduler-plugins), with an open schema. */
async function installPodGroupCrd(kc: KubeConfig): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({
    body: {
      metadata: { name: "podgroups.scheduling.x-k8s.io" },
      spec: {
        group: POD_GROUP.group,
        scope: "Namespaced",
        names: { kind: "PodGroup", plural: "podgroups", singular: "podgroup", listKind: "PodGroupList" },
        versions: [
          {
            name: "v1alpha1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", x_kubernetes_preserve_unknown_fields: true } },
          },
        ],
      },
    },
  });
  await pollUntil("PodGroup CRD established", 30_000, async () => {
    const got = await ext.readCustomResourceDefinition({ name: "podgroups.scheduling.x-k8s.io" });
    return (got.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
  });
}
