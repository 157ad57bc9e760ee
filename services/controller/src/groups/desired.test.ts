import {
  LABELS,
  type ModelDeployment,
  modelDeploymentSpecSchema,
  parseWorkerEnv,
  TUNNEL_TOKEN_SECRET_KEY,
  WORKER_ENV,
} from "@strata/core";
import { describe, expect, it } from "vitest";
import { resolvePlan } from "../plan/resolve-plan.js";
import { groupPods, headlessService, hostModelFolder, MAX_DOMAIN_NODE_NAMES } from "./desired.js";
import { revisionHash } from "./revision.js";

const spec = modelDeploymentSpecSchema.parse({
  model: {
    catalog: "llama-3.1-405b",
    source: { pvc: { claimName: "models", path: "405b" } },
    servedName: "llama",
  },
  engine: "vllm",
  parallelism: { mode: "explicit", tp: 8, pp: 2 },
  gpu: { type: "h100-sxm-80g", perNode: 8 },
});
const md: ModelDeployment = {
  apiVersion: "strata.dev/v1alpha1",
  kind: "ModelDeployment",
  metadata: { name: "llama", namespace: "prod", uid: "uid-1", generation: 1 },
  spec,
};
const noAuto = () => {
  throw new Error("not auto");
};

describe("groupPods", () => {
  const plan = resolvePlan(spec, noAuto);
  const pods = groupPods(md, plan, {
    replica: 1,
    revision: "abc",
    domain: "rack-7",
    natsUrl: "nats://nats:4222",
  });
  const env = (i: number, name: string) => pods[i]?.spec?.containers[0]?.env?.find((e) => e.name === name);

  it("makes one pod per stage with the tp GPUs, stage 0 the head", () => {
    expect(pods.map((p) => p.metadata?.name)).toEqual(["llama-1-0", "llama-1-1"]);
    expect(pods.map((p) => p.metadata?.labels?.[LABELS.role])).toEqual(["head", "stage"]);
    expect(pods[0]?.spec?.containers[0]?.resources?.limits?.["nvidia.com/gpu"]).toBe("8");
    // The Strata image's entry point is `strata`: every pod runs `strata worker`.
    for (const pod of pods) expect(pod.spec?.containers[0]?.command).toEqual(["strata", "worker"]);
    expect(pods[1]?.metadata?.labels).toMatchObject({
      [LABELS.deployment]: "llama",
      [LABELS.replica]: "1",
      [LABELS.stage]: "1",
      [LABELS.revision]: "abc",
    });
  });

  it("covers every layer once across stages and tells each worker its range", () => {
    expect(plan.stages.map((s) => s.layers)).toEqual([
      { first: 0, last: plan.stages[0]?.layers.last },
      { first: (plan.stages[0]?.layers.last ?? 0) + 1, last: 125 },
    ]);
    // vLLM stages meet through vLLM's rendezvous, but the head's group link to
    // every stage proves itself with the deployment's token, from its Secret.
    for (const i of [0, 1]) {
      expect(env(i, WORKER_ENV.tunnelToken)?.valueFrom?.secretKeyRef).toEqual({
        name: "llama-tunnel",
        key: TUNNEL_TOKEN_SECRET_KEY,
      });
    }
    expect(env(1, WORKER_ENV.advertiseHost)?.valueFrom?.fieldRef?.fieldPath).toBe("status.podIP");
    expect(env(1, WORKER_ENV.podUid)?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.uid");
  });

  it("gives llama.cpp stages the tunnel token from the deployment's Secret", () => {
    const llama = modelDeploymentSpecSchema.parse({
      ...spec,
      engine: "llamacpp",
      model: { ...spec.model, format: "gguf" },
    });
    const llamaPods = groupPods({ ...md, spec: llama }, resolvePlan(llama, noAuto), {
      replica: 0,
      revision: "abc",
      domain: "rack-7",
      natsUrl: "nats://nats:4222",
    });
    const token = llamaPods[1]?.spec?.containers[0]?.env?.find((e) => e.name === WORKER_ENV.tunnelToken);
    expect(token?.valueFrom?.secretKeyRef).toEqual({ name: "llama-tunnel", key: "tunnel-token" });
    // The TLS files come from the same Secret as the token, mounted where the contract says.
    const container = llamaPods[1]?.spec?.containers[0];
    const tlsDir = container?.env?.find((e) => e.name === WORKER_ENV.tunnelTlsDir)?.value;
    expect(tlsDir).toBe("/etc/strata/tunnel-tls");
    const mount = container?.volumeMounts?.find((m) => m.mountPath === tlsDir);
    const volume = llamaPods[1]?.spec?.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe("llama-tunnel");
    expect(volume?.secret?.items?.map((i) => i.key).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
  });

  it("gives llama.cpp workers as many slots as the workload's concurrency (at most 4096), vLLM workers none", () => {
    const slots = (concurrency: number, engine: "llamacpp" | "vllm") => {
      const s = modelDeploymentSpecSchema.parse({
        ...spec,
        engine,
        model: { ...spec.model, format: engine === "llamacpp" ? "gguf" : spec.model.format },
        workload: { ...spec.workload, concurrency },
      });
      const pods = groupPods({ ...md, spec: s }, resolvePlan(s, noAuto), {
        replica: 0,
        revision: "abc",
        domain: "rack-7",
        natsUrl: "nats://nats:4222",
      });
      return pods.map(
        (p) => p.spec?.containers[0]?.env?.find((e) => e.name === WORKER_ENV.maxSequences)?.value,
      );
    };
    expect(slots(16, "llamacpp")).toEqual(["16", "16"]);
    expect(slots(100_000, "llamacpp")).toEqual(["4096", "4096"]);
    expect(slots(16, "vllm")).toEqual([undefined, undefined]);
  });

  it("writes the worker contract: what the pod receives parses into the planned stage", () => {
    for (const [stage, pod] of pods.entries()) {
      // What the kubelet resolves: the Secret's token and the pod's IP.
      const resolved: Record<string, string> = {};
      for (const v of pod.spec?.containers[0]?.env ?? []) {
        const field = v.valueFrom?.fieldRef?.fieldPath;
        resolved[v.name] = v.value ?? (field === "metadata.uid" ? "pod-uid-1" : "10.0.0.7");
      }
      const config = parseWorkerEnv(resolved);
      expect(config).toMatchObject({
        deployment: "llama",
        replica: 1,
        stage,
        role: stage === 0 ? "head" : "stage",
        layers: plan.stages[stage]?.layers,
        tensorParallel: 8,
        advertiseHost: "10.0.0.7",
        podUid: "pod-uid-1",
        httpPort: 8080,
        tunnelPort: 7070,
      });
      // vLLM stages do not use the tunnel: no TLS directory, no Secret volume.
      expect(config.tunnelTlsDir).toBeUndefined();
      expect(pod.spec?.volumes?.some((v) => v.secret)).toBe(false);
      expect(config.stageAddresses).toEqual([
        "llama-1-0.llama-stages.prod.svc:7070",
        "llama-1-1.llama-stages.prod.svc:7070",
      ]);
    }
  });

  it("gives vLLM pods the device, the planner's GPU memory share, a step timeout and 2Gi of /dev/shm per GPU", () => {
    for (const pod of pods) {
      const resolved: Record<string, string> = {};
      for (const v of pod.spec?.containers[0]?.env ?? []) resolved[v.name] = v.value ?? "from-elsewhere";
      expect(parseWorkerEnv(resolved).vllm).toEqual({
        device: "gpu",
        gpuMemoryUtilization: 0.9,
        cpuBind: "auto",
        stepTimeoutSeconds: 60,
      });
      const shm = pod.spec?.volumes?.find((v) => v.name === "dshm");
      expect(shm?.emptyDir).toEqual({ medium: "Memory", sizeLimit: "16Gi" });
      expect(pod.spec?.containers[0]?.volumeMounts).toContainEqual({ name: "dshm", mountPath: "/dev/shm" });
    }
    const own = groupPods({ ...md, spec: { ...spec, resources: { sharedMemory: "32Gi" } } }, plan, {
      replica: 0,
      revision: "abc",
      domain: "rack-7",
      natsUrl: "nats://nats:4222",
    });
    expect(own[0]?.spec?.volumes?.find((v) => v.name === "dshm")?.emptyDir?.sizeLimit).toBe("32Gi");
    const llama = groupPods({ ...md, spec: { ...spec, engine: "llamacpp" } }, plan, {
      replica: 0,
      revision: "abc",
      domain: "rack-7",
      natsUrl: "nats://nats:4222",
    });
    expect(llama[0]?.spec?.volumes?.find((v) => v.name === "dshm")?.emptyDir).toEqual({ medium: "Memory" });
    expect(llama[0]?.spec?.containers[0]?.env?.map((e) => e.name)).not.toContain(WORKER_ENV.device);
  });

  it("names the domain's nodes when admission knew them, so the scheduler filters only those", () => {
    const ctx = { replica: 0, revision: "abc", domain: "rack-7", natsUrl: "nats://nats:4222" };
    const term = (p: ReturnType<typeof groupPods>[number] | undefined) =>
      p?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0];
    const named = groupPods(md, plan, { ...ctx, domainNodes: ["n-2", "n-1"] });
    const terms =
      named[0]?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
        ?.nodeSelectorTerms;
    // One term per node (the API server takes one value per metadata.name field), each keeping the rack.
    expect(terms).toEqual(
      ["n-1", "n-2"].map((node) => ({
        matchExpressions: [{ key: "strata.dev/rack", operator: "In", values: ["rack-7"] }],
        matchFields: [{ key: "metadata.name", operator: "In", values: [node] }],
      })),
    );
    // Too many to list (a zone), or not known (pods added to a group): the label alone.
    const many = Array.from({ length: MAX_DOMAIN_NODE_NAMES + 1 }, (_, i) => `n-${i}`);
    expect(term(groupPods(md, plan, { ...ctx, domainNodes: many })[0])?.matchFields).toBeUndefined();
    expect(term(pods[0])?.matchFields).toBeUndefined();
  });

  it("pins every pod of the group to its admitted domain, without inter-pod affinity", () => {
    const affinity = pods[0]?.spec?.affinity;
    expect(
      affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]
        ?.matchExpressions?.[0],
    ).toEqual({
      key: "strata.dev/rack",
      operator: "In",
      values: ["rack-7"],
    });
    for (const pod of pods) {
      expect(pod.spec?.affinity?.nodeAffinity).toEqual(affinity?.nodeAffinity);
      expect(pod.spec?.affinity?.podAffinity).toBeUndefined();
    }
    expect(pods[0]?.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "ModelDeployment",
      uid: "uid-1",
      controller: true,
    });
  });

  it("gives the deployment one headless Service for all its groups: stage DNS, the tunnel and the heads' http port", () => {
    const svc = headlessService(md);
    expect(svc.metadata?.name).toBe("llama-stages");
    expect(svc.spec?.clusterIP).toBe("None");
    expect(svc.spec?.publishNotReadyAddresses).toBe(true);
    expect(svc.spec?.selector).toEqual({ [LABELS.deployment]: "llama" });
    // No replica label: the gateway reads every group's head from the deployment's slices.
    expect(svc.metadata?.labels?.[LABELS.replica]).toBeUndefined();
    expect(svc.spec?.ports?.map((p) => p.name)).toEqual(["tunnel", "http"]);
    // Pods name this Service as their subdomain, so the EndpointSlice names each endpoint's hostname.
    expect(pods.map((p) => p.spec?.subdomain)).toEqual(pods.map(() => "llama-stages"));
  });
});

describe("revisionHash", () => {
  const plan = resolvePlan(spec, noAuto);
  it("ignores replicas and rollout settings but not the image", () => {
    const base = revisionHash(spec, plan);
    expect(
      revisionHash(
        { ...spec, replicas: 7, rollout: { maxSurge: 2, maxUnavailable: 0, drainTimeoutSeconds: 5 } },
        plan,
      ),
    ).toBe(base);
    expect(revisionHash({ ...spec, images: { ...spec.images, worker: "w:2" } }, plan)).not.toBe(base);
  });
});

describe("model volumes", () => {
  it("mounts a hostPath model through its folder, under /models at its path on the node, so the worker's messages name that path", () => {
    const s = modelDeploymentSpecSchema.parse({
      model: {
        catalog: "llama-3.1-405b",
        source: { hostPath: "/srv/models/llama.gguf" },
        servedName: "llama",
        format: "gguf",
      },
      engine: "llamacpp",
      parallelism: { mode: "explicit", tp: 8, pp: 2 },
      gpu: { type: "h100-sxm-80g", perNode: 8 },
    });
    const pods = groupPods({ ...md, spec: s }, resolvePlan(s, noAuto), {
      replica: 0,
      revision: "r",
      domain: "rack-1",
      natsUrl: "nats://nats:4222",
    });
    for (const pod of pods) {
      const container = pod.spec?.containers[0];
      const path = container?.env?.find((e) => e.name === WORKER_ENV.modelPath)?.value;
      expect(path).toBe("/models/srv/models/llama.gguf");
      // The folder, not the file: a missing file must not be made an empty folder on the node.
      const mount = container?.volumeMounts?.find((m) => m.name === "model");
      expect(mount).toEqual({ name: "model", mountPath: "/models/srv/models", readOnly: true });
      expect(pod.spec?.volumes?.find((v) => v.name === "model")?.hostPath).toEqual({
        path: "/srv/models",
        type: "",
      });
    }
  });

  it("picks the folder that holds the model, and never the node's root", () => {
    expect(hostModelFolder("/srv/models/llama.gguf")).toBe("/srv/models");
    expect(hostModelFolder("/srv/models/llama-hf/")).toBe("/srv/models");
    expect(hostModelFolder("/llama.gguf")).toBe("/llama.gguf");
    expect(hostModelFolder("/models")).toBe("/models");
  });
});

describe("stage tensor caches (llama.cpp)", () => {
  const llamaSpec = (
    extra: Record<string, unknown> = {},
    source: object = { hostPath: "/models/405b.gguf" },
  ) =>
    modelDeploymentSpecSchema.parse({
      model: { catalog: "llama-3.1-405b", source, servedName: "llama", format: "gguf" },
      engine: "llamacpp",
      parallelism: { mode: "explicit", tp: 1, pp: 3 },
      gpu: { type: "h100-sxm-80g", perNode: 8 },
      ...extra,
    });
  const podsOf = (s: ReturnType<typeof llamaSpec>) =>
    groupPods({ ...md, spec: s }, resolvePlan(s, noAuto), {
      replica: 2,
      revision: "r",
      domain: "rack-1",
      natsUrl: "nats://nats:4222",
    });
  const cacheOf = (pods: ReturnType<typeof podsOf>) =>
    pods.map((pod) => {
      const container = pod.spec?.containers[0];
      return {
        dir: container?.env?.find((e) => e.name === WORKER_ENV.rpcCacheDir)?.value,
        max: container?.env?.find((e) => e.name === WORKER_ENV.rpcCacheMaxBytes)?.value,
        volume: pod.spec?.volumes?.find((v) => v.name === "rpc-cache"),
        mounted: container?.volumeMounts?.some((m) => m.name === "rpc-cache") ?? false,
      };
    });

  it("gives every remote stage an emptyDir cache of its own by default, and the head none", () => {
    const caches = cacheOf(podsOf(llamaSpec()));
    expect(caches[0]).toEqual({ dir: undefined, max: undefined, volume: undefined, mounted: false });
    for (const cache of caches.slice(1)) {
      expect(cache).toEqual({
        dir: "/var/cache/strata/rpc",
        max: undefined,
        volume: { name: "rpc-cache", emptyDir: {} },
        mounted: true,
      });
    }
  });

  it("bounds it by sizeLimit, and keeps it on the node per deployment, replica and stage with hostPath", () => {
    const caches = cacheOf(
      podsOf(llamaSpec({ rpcCache: { sizeLimit: "64Gi", hostPath: "/var/lib/strata/" } })),
    );
    expect(caches[2]).toEqual({
      dir: "/var/cache/strata/rpc",
      max: String(64 * 1024 ** 3),
      volume: {
        name: "rpc-cache",
        hostPath: { path: "/var/lib/strata/prod/llama/replica-2/stage-2", type: "DirectoryOrCreate" },
      },
      mounted: true,
    });
  });

  it("is off when the deployment turns it off, or when stages cannot read the model file", () => {
    const off = [
      llamaSpec({ rpcCache: { enabled: false } }),
      llamaSpec({}, { uri: "https://models.example/405b.gguf" }),
    ];
    for (const s of off) {
      for (const cache of cacheOf(podsOf(s))) expect(cache.dir).toBeUndefined();
    }
    expect(cacheOf(podsOf(llamaSpec({}, { pvc: { claimName: "models" } })))[1]?.dir).toBe(
      "/var/cache/strata/rpc",
    );
  });
});
