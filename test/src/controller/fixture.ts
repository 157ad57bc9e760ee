import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  type CoreV1Event,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  RbacAuthorizationV1Api,
  type V1CustomResourceDefinition,
  type V1Pod,
  type V1PolicyRule,
  Watch,
} from "@kubernetes/client-node";
import { Controller, type ControllerConfigInput, resolveControllerConfig } from "@strata/controller";
import {
  LABELS,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_VERSION,
  type ModelDeployment,
  type ModelDeploymentSpecInput,
  STRATA_API_GROUP,
} from "@strata/core";
import { jsonLogger, silentLogger } from "@strata/runtime";
import { parse } from "yaml";
import { PollTimeoutError, pollUntil, serviceAccountKubeconfig } from "../k8s/index.js";

/**
 * What the controller's integration tests share: the chart's CRD and
 * ClusterRole installed on the harness's API server, the controller running
 * in-process with a ServiceAccount token bound to that ClusterRole (never as
 * admin), and helpers to read groups back.
 */

export const CHART_DIR = fileURLToPath(new URL("../../../deploy/helm/strata/", import.meta.url));
export const CONTROLLER_ROLE = "strata-controller-test";
const CRD = {
  group: STRATA_API_GROUP,
  version: MODEL_DEPLOYMENT_VERSION,
  plural: MODEL_DEPLOYMENT_PLURAL,
} as const;

/** Installs the chart's CRD and a ClusterRole with the chart's controller rules. */
export async function installChartCrdAndRole(kc: KubeConfig): Promise<void> {
  // loadYaml maps JSON names (x-kubernetes-validations) to the client's field names; a plain parse would lose them.
  const crd = loadYaml<V1CustomResourceDefinition>(
    readFileSync(`${CHART_DIR}crds/modeldeployments.yaml`, "utf8"),
  );
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({ body: crd }).catch(ignoreConflict);
  await pollUntil("the ModelDeployment CRD to be established", 30_000, async () => {
    const got = await ext.readCustomResourceDefinition({ name: crd.metadata?.name ?? "" });
    return (got.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
  });
  const rules = parse(readFileSync(`${CHART_DIR}files/controller-rbac-rules.yaml`, "utf8")) as V1PolicyRule[];
  await kc
    .makeApiClient(RbacAuthorizationV1Api)
    .createClusterRole({ body: { metadata: { name: CONTROLLER_ROLE }, rules } })
    .catch(ignoreConflict);
}

function ignoreConflict(err: unknown): void {
  if ((err as { code?: number }).code !== 409) throw err;
}

/** A kubeconfig for the ServiceAccount `strata-controller` in `namespace`, bound to the chart's rules. */
export async function controllerKubeconfig(admin: KubeConfig, namespace: string): Promise<string> {
  return await serviceAccountKubeconfig(admin, {
    namespace,
    name: "strata-controller",
    clusterRoleName: CONTROLLER_ROLE,
  });
}

/** Settings that keep the tests quick: short gang timeout and backoff. */
export const TEST_CONTROLLER_SETTINGS: ControllerConfigInput = {
  healthHost: "127.0.0.1",
  healthPort: 0,
  natsUrl: "nats://nats.invalid:4222",
  gangTimeoutMs: 15_000,
  gangBackoffBaseMs: 2_000,
  gangBackoffMaxMs: 8_000,
  capacityRetryMs: 3_000,
};

// Failed reconciles and fatal errors reach the test output; routine progress does not.
const logged = jsonLogger("controller");
const warningsOnly = { ...silentLogger, warn: logged.warn, error: logged.error };

/** Starts the controller in-process, scoped to one namespace, as the ServiceAccount. */
export async function startController(
  admin: KubeConfig,
  namespace: string,
  over: ControllerConfigInput = {},
) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(await controllerKubeconfig(admin, namespace));
  const fatal: Error[] = [];
  const controller = new Controller({
    kubeConfig,
    config: resolveControllerConfig({
      ...TEST_CONTROLLER_SETTINGS,
      namespace,
      leaderElection: false,
      ...over,
    }),
    log: warningsOnly,
    onFatal: (err) => fatal.push(err),
  });
  await controller.start();
  return { controller, fatal };
}

/** A small llama-shaped model (not in the catalog) so tests choose tp and pp freely. */
export function smallSpec(over: Partial<ModelDeploymentSpecInput> = {}): ModelDeploymentSpecInput {
  return {
    model: {
      architecture: { layers: 32, attentionHeads: 32, kvHeads: 8 },
      source: { uri: "https://models.invalid/small.gguf" },
      format: "gguf",
      servedName: "small",
    },
    engine: "llamacpp",
    parallelism: { mode: "explicit", tp: 4, pp: 2 },
    gpu: { type: "h100-sxm-80g", perNode: 8 },
    images: { worker: "registry.invalid/strata/shard-worker:1", pullPolicy: "IfNotPresent" },
    ...over,
  };
}

export class Deployments {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(
    private readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async create(name: string, spec: ModelDeploymentSpecInput): Promise<void> {
    await this.custom.createNamespacedCustomObject({
      ...CRD,
      namespace: this.namespace,
      body: {
        apiVersion: `${STRATA_API_GROUP}/${MODEL_DEPLOYMENT_VERSION}`,
        kind: "ModelDeployment",
        metadata: { name },
        spec,
      },
    });
  }

  async get(name: string): Promise<ModelDeployment> {
    return (await this.custom.getNamespacedCustomObject({
      ...CRD,
      namespace: this.namespace,
      name,
    })) as ModelDeployment;
  }

  /**
   * Merge-patches the spec: read, merge, replace; a conflict (the controller
   * wrote status in between, which bumps the resourceVersion) reads again.
   */
  async patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const md = await this.get(name);
      try {
        await this.custom.replaceNamespacedCustomObject({
          ...CRD,
          namespace: this.namespace,
          name,
          body: { ...md, spec: deepMerge(md.spec as unknown as Record<string, unknown>, spec) },
        });
        return;
      } catch (err: unknown) {
        if ((err as { code?: number }).code !== 409 || attempt >= 10) throw err;
      }
    }
  }

  /** The scale subresource, as `kubectl scale` and an HPA see it. */
  async scale(
    name: string,
  ): Promise<{ spec?: { replicas?: number }; status?: { replicas?: number; selector?: string } }> {
    return await this.custom.getNamespacedCustomObjectScale({ ...CRD, namespace: this.namespace, name });
  }

  /** Sets spec.replicas through the scale subresource; a conflict reads again. */
  async setScale(name: string, replicas: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const scale = await this.scale(name);
      try {
        await this.custom.replaceNamespacedCustomObjectScale({
          ...CRD,
          namespace: this.namespace,
          name,
          body: { ...scale, spec: { replicas } },
        });
        return;
      } catch (err: unknown) {
        if ((err as { code?: number }).code !== 409 || attempt >= 10) throw err;
      }
    }
  }

  async delete(name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ ...CRD, namespace: this.namespace, name });
  }

  async pods(name: string): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `${LABELS.deployment}=${name}`,
    });
    return list.items;
  }

  /** Pods by replica index. */
  async groups(name: string): Promise<Map<number, V1Pod[]>> {
    const groups = new Map<number, V1Pod[]>();
    for (const pod of await this.pods(name)) {
      const replica = Number(pod.metadata?.labels?.[LABELS.replica]);
      groups.set(replica, [...(groups.get(replica) ?? []), pod]);
    }
    return groups;
  }

  /**
   * Records every status the API server sends for the deployment through a
   * watch, so a condition that holds only briefly is still seen.
   */
  async watchStatuses(name: string): Promise<{ seen: ModelDeployment[]; stop: () => void }> {
    const seen: ModelDeployment[] = [];
    const path = `/apis/${CRD.group}/${CRD.version}/namespaces/${this.namespace}/${CRD.plural}`;
    const req = await new Watch(this.kc).watch(
      path,
      { fieldSelector: `metadata.name=${name}` },
      (_type, obj: ModelDeployment) => seen.push(obj),
      () => {},
    );
    return { seen, stop: () => req.abort() };
  }

  condition(md: ModelDeployment, type: string) {
    return md.status?.conditions?.find((c) => c.type === type);
  }

  async waitFor(
    what: string,
    name: string,
    timeoutMs: number,
    check: (md: ModelDeployment) => boolean,
  ): Promise<ModelDeployment> {
    let last: ModelDeployment | undefined;
    try {
      await pollUntil(`${this.namespace}/${name}: ${what}`, timeoutMs, async () => {
        last = await this.get(name);
        return check(last);
      });
    } catch (err: unknown) {
      if (!(err instanceof PollTimeoutError)) throw err;
      // What the deployment looked like when the wait gave up, so a failure in CI says why.
      const events = await this.recentEvents(6).catch(() => []);
      throw new PollTimeoutError(
        `${err.message}; last status: ${describeStatus(last)}; newest events: ${events.join(" | ") || "none"}`,
        { cause: err },
      );
    }
    if (!last) throw new Error("unreachable");
    return last;
  }

  /** The namespace's newest events, `Reason: message`, newest last. */
  private async recentEvents(count: number): Promise<string[]> {
    const list = await this.core.listNamespacedEvent({ namespace: this.namespace });
    const at = (e: CoreV1Event) =>
      new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
    return [...list.items]
      .sort((a, b) => at(a) - at(b))
      .slice(-count)
      .map((e) => `${e.reason}: ${e.message ?? ""}`);
  }

  async events(reason: string): Promise<string[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `reason=${reason}`,
    });
    return list.items.map((e) => e.message ?? "");
  }
}

/** A deployment's groups and conditions in one line: `0:Available 2/2 [ready,ready]`, `Available=True`. */
function describeStatus(md: ModelDeployment | undefined): string {
  if (!md) return "never read";
  const st = md.status;
  const groups = (st?.groups ?? []).map(
    (g) =>
      `${g.replica}:${g.phase} ${g.boundPods}/${g.readyPods} rev ${g.revision ?? "?"}` +
      ` [${(g.stages ?? []).map((x) => x.state).join(",")}]${g.message ? ` (${g.message})` : ""}`,
  );
  const conditions = (st?.conditions ?? []).map(
    (c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ""}`,
  );
  return `revision ${st?.revision ?? "?"}, groups ${groups.join("; ") || "none"}, conditions ${conditions.join("; ") || "none"}`;
}

export function isReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === "Running" &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

/** A group is available when it has `stages` pods, all bound, running, ready and none terminating. */
export function groupAvailable(pods: readonly V1Pod[] | undefined, stages: number): boolean {
  return (
    !!pods &&
    pods.length === stages &&
    pods.every((p) => isReady(p) && !!p.spec?.nodeName && !p.metadata?.deletionTimestamp)
  );
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
