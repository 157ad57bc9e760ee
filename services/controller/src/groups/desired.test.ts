import {
  LABELS,
  type ModelDeployment,
  modelDeploymentSpecSchema,
  parseWorkerEnv,
  WORKER_ENV,
} from "@strata/core";
import { describe, expect, it } from "vitest";
import { resolvePlan } from "../plan/resolve-plan.js";
import { groupPods, headService } from "./desired.js";
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
    expect(env(0, WORKER_ENV.tunnelToken)?.valueFrom?.secretKeyRef).toEqual({
      name: "llama-tunnel",
      key: "tunnel-token",
    });
    expect(env(1, WORKER_ENV.advertiseHost)?.valueFrom?.fieldRef?.fieldPath).toBe("status.podIP");
  });

  it("writes the worker contract: what the pod receives parses into the planned stage", () => {
    for (const [stage, pod] of pods.entries()) {
      // What the kubelet resolves: the Secret's token and the pod's IP.
      const resolved: Record<string, string> = {};
      for (const v of pod.spec?.containers[0]?.env ?? []) {
        resolved[v.name] = v.value ?? (v.valueFrom?.secretKeyRef ? "token-from-secret" : "10.0.0.7");
      }
      const config = parseWorkerEnv(resolved);
      expect(config).toMatchObject({
        deployment: "llama",
        replica: 1,
        stage,
        role: stage === 0 ? "head" : "stage",
        layers: plan.stages[stage]?.layers,
        tensorParallel: 8,
        tunnelToken: "token-from-secret",
        advertiseHost: "10.0.0.7",
        httpPort: 8080,
        tunnelPort: 7070,
        tunnelTlsDir: "/etc/strata/tunnel-tls",
      });
      // The TLS files come from the same Secret as the token, mounted where the contract says.
      const mount = pod.spec?.containers[0]?.volumeMounts?.find((m) => m.mountPath === config.tunnelTlsDir);
      const volume = pod.spec?.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret?.secretName).toBe("llama-tunnel");
      expect(volume?.secret?.items?.map((i) => i.key).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
      expect(config.stageAddresses).toEqual([
        "llama-1-0.llama-1.prod.svc:7070",
        "llama-1-1.llama-1.prod.svc:7070",
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

  it("pins the group to its domain and keeps it together with pod affinity", () => {
    const affinity = pods[0]?.spec?.affinity;
    expect(
      affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]
        ?.matchExpressions?.[0],
    ).toEqual({
      key: "strata.dev/rack",
      operator: "In",
      values: ["rack-7"],
    });
    expect(affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey).toBe(
      "strata.dev/rack",
    );
    expect(pods[0]?.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "ModelDeployment",
      uid: "uid-1",
      controller: true,
    });
  });

  it("routes the head Service to stage 0 only", () => {
    expect(headService(md, 1).spec?.selector).toEqual({
      [LABELS.deployment]: "llama",
      [LABELS.replica]: "1",
      [LABELS.stage]: "0",
    });
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
