#!/usr/bin/env node
/**
 * `npm run e2e:cluster`: what a platform team does, on real nodes. Builds the
 * images (cached), starts the test cluster with two real kubelet nodes
 * (containerd, runc, kube-proxy, CoreDNS), `helm install`s the chart
 * (controller ×2 with leader election, gateway, NATS) with a ModelDeployment of
 * SmolLM2-135M in 2 pipeline stages, and checks, in real containers:
 * first token through the gateway Service with the official `openai` client,
 * greedy tokens equal to the same image's one-stage engine, the tunnel on TLS,
 * a stage pod deleted mid-stream, a `helm upgrade` that rolls 2 replicas under
 * load, and `helm uninstall` leaving nothing. Progress goes to stderr; stdout
 * gets one JSON line of figures. Exit 1 when a requirement does not hold.
 *
 *   node test/dist/cluster-e2e/main.js
 */
import { chmod, copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import {
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_VERSION,
  type ModelDeployment,
  STRATA_API_GROUP,
} from "@strata/core";
import { Load } from "../chaos/load.js";
import { Deployments } from "../controller/fixture.js";
import { serving } from "../controller/live-fixture.js";
import { ensureTestImages } from "../images/index.js";
import { GPU_RESOURCE, pollUntil, type RealCluster, startRealCluster } from "../k8s/index.js";
import { smollm2Path } from "../shard-worker/real-model.js";
import {
  chartValues,
  DEPLOYMENT,
  MODEL_FILE,
  NAMESPACE,
  RELEASE,
  type ReleaseShape,
  SERVED_NAME,
} from "./chart-values.js";
import {
  leaseHolder,
  leftovers,
  podProcesses,
  RequirementError,
  requireThat,
  tunnelServesTls,
} from "./checks.js";
import { diagnose, diagnoseNodeLogs } from "./diagnose.js";
import {
  gatewayBaseUrl,
  greedyTokens,
  openaiClient,
  streamCompletion,
  untilServed,
} from "./gateway-client.js";
import { Helm } from "./helm.js";
import { referenceTokens } from "./reference.js";

const HELM_TIMEOUT_S = 300;
const SERVING_MS = 420_000;
const PROMPT = "The capital of France is";
const GREEDY_TOKENS = 16;
const GREEDY_ATTEMPTS = 3;
/** A stream long enough to be cut in the middle (SmolLM2 on these 2 cores: ~10 tokens/s). */
const LONG_STREAM_TOKENS = 400;
const STREAM_HANG_MS = 90_000;
const FULLNAME = RELEASE; // the chart's fullname when the release is named after it

const say = (line: string) => process.stderr.write(`e2e:cluster: ${line}\n`);
const seconds = (fromMs: number, toMs = Date.now()) => Number(((toMs - fromMs) / 1000).toFixed(1));

interface Figures {
  installToFirstTokenS?: number;
  podDeleteToServedS?: number;
  upgradeFailedRequests?: number;
  imageBytes?: number;
}

const figures: Figures = {};
/** Requirements that did not hold in steps the run could go on after; the run then exits 1. */
const unmet: string[] = [];
const setup: Record<string, number> = {};

async function main(): Promise<void> {
  let t = Date.now();
  const images = await ensureTestImages((line) => say(`  ${line}`));
  setup.imagesS = seconds(t);
  figures.imageBytes = images.strata.bytes;
  say(
    `images ready in ${setup.imagesS} s (Strata image archive ${(images.strata.bytes / 1e6).toFixed(0)} MB)`,
  );

  // The model on every node's path: the nodes share this machine's filesystem, so one
  // world-readable copy serves both (the worker runs as a non-root user).
  const modelDir = await mkdtemp(join(tmpdir(), "strata-cluster-model-"));
  await chmod(modelDir, 0o755);
  await copyFile(await smollm2Path(), join(modelDir, MODEL_FILE));
  await chmod(join(modelDir, MODEL_FILE), 0o644);

  t = Date.now();
  say("starting the cluster: control plane, CoreDNS, 2 real nodes (containerd, kubelet, kube-proxy)");
  const cluster = await startRealCluster({ pauseImage: images.pause, images: [images.strata, images.nats] });
  setup.clusterS = seconds(t);
  say(
    `cluster up in ${setup.clusterS} s (${cluster.timings.map((s) => `${s.step} ${s.seconds}`).join(", ")})`,
  );
  const workDir = await mkdtemp(join(tmpdir(), "strata-cluster-helm-"));
  try {
    await run(cluster, modelDir, workDir);
  } catch (err: unknown) {
    await diagnose(cluster.kubeConfig(), NAMESPACE, say).catch((e: unknown) => say(`diagnosis failed: ${e}`));
    await diagnoseNodeLogs(cluster.dir, say).catch((e: unknown) => say(`diagnosis failed: ${e}`));
    throw err;
  } finally {
    say("stopping the cluster");
    await cluster.stop();
    await rm(workDir, { recursive: true, force: true });
    await rm(modelDir, { recursive: true, force: true });
  }
}

async function run(cluster: RealCluster, modelDir: string, workDir: string): Promise<void> {
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const helm = new Helm(cluster.controlPlane.kubeconfigPath, workDir, (line) => say(`  ${line}`));
  const mds = new Deployments(kc, NAMESPACE);
  let shape: ReleaseShape = { modelDir, replicas: 1, maxModelLength: 512 };

  // 1. helm install: controller ×2, gateway, NATS, and the ModelDeployment.
  const installStart = Date.now();
  say("helm install: controller ×2 (leader election), gateway, NATS, ModelDeployment smol (2 stages)");
  await helm.apply(RELEASE, NAMESPACE, chartValues(shape), HELM_TIMEOUT_S);
  say(`helm install done in ${seconds(installStart)} s`);
  await checkControlPlanePods(kc);

  // 2. Both stage pods Running with llama.cpp; the first token through the gateway Service.
  const baseUrl = await gatewayBaseUrl(kc, cluster, NAMESPACE, `${FULLNAME}-gateway`);
  const client = openaiClient(baseUrl);
  await mds.waitFor("serving", DEPLOYMENT, SERVING_MS, (md) => serving(md, 1));
  say(`ModelDeployment serving ${seconds(installStart)} s after helm install began`);
  await untilServed(client, SERVED_NAME, SERVING_MS);
  const first = streamCompletion(client, SERVED_NAME, PROMPT, 4, STREAM_HANG_MS);
  await first.firstToken;
  figures.installToFirstTokenS = seconds(installStart);
  await first.outcome;
  say(
    `first token through the gateway ${figures.installToFirstTokenS} s after helm install began (${baseUrl})`,
  );

  const models = (await client.models.list()).data.map((m) => m.id);
  requireThat(models.includes(SERVED_NAME), `/v1/models lists ${SERVED_NAME} (got ${models.join(", ")})`);
  const group = await runningGroup(mds, 0);
  const [head, stage] = group;
  if (head === undefined || stage === undefined) throw new RequirementError("group 0 lacks a pod");
  requireThat(head.spec?.nodeName !== stage.spec?.nodeName, "the 2 stages run on different nodes");
  const headEngines = podProcesses(head.metadata?.uid ?? "");
  const stageEngines = podProcesses(stage.metadata?.uid ?? "");
  requireThat(
    headEngines.includes("llama-server"),
    `the head pod runs llama-server (has ${headEngines.join(" ")})`,
  );
  requireThat(
    stageEngines.includes("ggml-rpc-server"),
    `the stage pod runs ggml-rpc-server (has ${stageEngines.join(" ")})`,
  );
  say(
    `group 0: ${head.metadata?.name} on ${head.spec?.nodeName} [${headEngines.join(" ")}], ` +
      `${stage.metadata?.name} on ${stage.spec?.nodeName} [${stageEngines.join(" ")}]`,
  );

  const reference = await referenceTokens(
    kc,
    NAMESPACE,
    modelDir,
    MODEL_FILE,
    shape.maxModelLength,
    PROMPT,
    GREEDY_TOKENS,
  );
  // The head's canary (a 1-token completion every few seconds) can share a decode batch
  // with the request, and llama.cpp's batched arithmetic may then tip a near tie: a
  // divergence is printed and the request asked again, up to GREEDY_ATTEMPTS times.
  let split: { tokens: number[]; text: string } = { tokens: [], text: "" };
  for (let attempt = 1; attempt <= GREEDY_ATTEMPTS; attempt++) {
    split = await greedyTokens(client, SERVED_NAME, PROMPT, GREEDY_TOKENS);
    if (JSON.stringify(split.tokens) === JSON.stringify(reference.tokens)) break;
    say(
      `attempt ${attempt}: 2-stage tokens ${split.tokens.join(",")} differ from ${reference.tokens.join(",")}`,
    );
  }
  requireThat(split.tokens.length === GREEDY_TOKENS, `the gateway returned ${split.tokens.length} token ids`);
  // Checked, and the run goes on: the later steps do not depend on it.
  if (JSON.stringify(split.tokens) === JSON.stringify(reference.tokens)) {
    say(`greedy tokens equal the one-stage engine's (on ${reference.node}): ${JSON.stringify(split.text)}`);
  } else {
    unmet.push(
      `2-stage greedy tokens ${split.tokens.join(",")} differ from the one-stage engine's ${reference.tokens.join(",")}`,
    );
    say(`NOT MET: ${unmet.at(-1)}`);
  }

  const tls = await tunnelServesTls(kc, NAMESPACE, `${DEPLOYMENT}-tunnel`, stage);
  say(
    `stage tunnel serves ${tls.protocol}, certificate ${tls.subject} from Secret ${DEPLOYMENT}-tunnel's CA`,
  );

  // 3. Delete a stage pod mid-stream.
  figures.podDeleteToServedS = await deleteMidStream(kc, mds, client);

  // 5. Two replicas, then a helm upgrade that changes the pods, under continuous requests.
  await setNodeGpus(kc, cluster, 2);
  shape = { ...shape, replicas: 2 };
  say("helm upgrade: 2 replicas");
  await helm.apply(RELEASE, NAMESPACE, chartValues(shape), HELM_TIMEOUT_S);
  await mds.waitFor("2 replicas serving", DEPLOYMENT, SERVING_MS, (md) => serving(md, 2));
  figures.upgradeFailedRequests = await upgradeUnderLoad(helm, mds, baseUrl, {
    ...shape,
    maxModelLength: 1024,
  });

  // 4. helm uninstall, then the CRD's objects: nothing is left.
  say("helm uninstall, then delete every ModelDeployment");
  await helm.uninstall(RELEASE, NAMESPACE, HELM_TIMEOUT_S);
  await deleteAllModelDeployments(kc);
  let left: string[] = [];
  await pollUntil("nothing left after helm uninstall", 120_000, async () => {
    left = await leftovers(kc, NAMESPACE);
    return left.length === 0;
  }).catch(() => {
    throw new RequirementError(`left after helm uninstall: ${left.join(", ")}`);
  });
  say("nothing left: no pod, Service, Secret, ModelDeployment or PodGroup");
  await core.deleteNamespace({ name: NAMESPACE });
}

/** The controller's 2 pods (one holds the Lease), the gateway and NATS, under their ServiceAccounts. */
async function checkControlPlanePods(kc: KubeConfig): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const controller = await apps.readNamespacedDeployment({
    namespace: NAMESPACE,
    name: `${FULLNAME}-controller`,
  });
  requireThat(controller.status?.readyReplicas === 2, "2 controller replicas are ready");
  const pods = (
    await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: "app.kubernetes.io/component" })
  ).items;
  const byComponent = (c: string) =>
    pods.filter((p) => p.metadata?.labels?.["app.kubernetes.io/component"] === c);
  const controllers = byComponent("controller").map((p) => p.metadata?.name ?? "");
  let holder = "";
  await pollUntil("a controller holds the Lease", 60_000, async () => {
    // The controller's identity is its pod's name and its process id.
    holder = await leaseHolder(kc, NAMESPACE, `${FULLNAME}-controller`);
    return controllers.some((name) => holder.startsWith(`${name}-`));
  });
  for (const [component, account] of [
    ["controller", `${FULLNAME}-controller`],
    ["gateway", `${FULLNAME}-gateway`],
  ] as const) {
    for (const pod of byComponent(component)) {
      requireThat(
        pod.spec?.serviceAccountName === account,
        `${pod.metadata?.name} runs as ServiceAccount ${account} (has ${pod.spec?.serviceAccountName})`,
      );
    }
  }
  requireThat(byComponent("nats").length === 1, "one NATS pod");
  say(
    `controllers ${controllers.join(", ")} (leader ${holder}), gateway and NATS Ready, in-cluster ServiceAccounts`,
  );
}

/** The group's pods once both run and are Ready, stage 0 first. */
async function runningGroup(mds: Deployments, replica: number) {
  const groups = await mds.groups(DEPLOYMENT);
  const pods = (groups.get(replica) ?? []).sort((a, b) =>
    (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
  );
  requireThat(pods.length === 2, `group ${replica} has 2 pods (has ${pods.length})`);
  for (const p of pods) requireThat(p.status?.phase === "Running", `${p.metadata?.name} is Running`);
  return pods;
}

/** Deletes stage 1 of group 0 while a stream runs; returns seconds from the delete to a served request. */
async function deleteMidStream(kc: KubeConfig, mds: Deployments, client: ReturnType<typeof openaiClient>) {
  const core = kc.makeApiClient(CoreV1Api);
  const before = (await runningGroup(mds, 0)).map((p) => p.metadata?.uid ?? "");
  const stream = streamCompletion(
    client,
    SERVED_NAME,
    "Once upon a time, there was a",
    LONG_STREAM_TOKENS,
    STREAM_HANG_MS,
  );
  await stream.firstToken;
  const victim = `${DEPLOYMENT}-0-1`;
  say(`deleting pod ${victim} mid-stream`);
  const deletedAt = Date.now();
  await core.deleteNamespacedPod({ namespace: NAMESPACE, name: victim });
  const outcome = await stream.outcome;
  requireThat(!outcome.ok, "the stream cut by the delete ends with an error");
  if (!outcome.ok) {
    requireThat(!outcome.hung, `the stream ended within ${STREAM_HANG_MS} ms (it hung)`);
    say(`stream ended ${seconds(deletedAt)} s after the delete with: ${outcome.error.slice(0, 160)}`);
  }
  const servedAt = await untilServed(client, SERVED_NAME, SERVING_MS);
  const after = (await mds.pods(DEPLOYMENT)).map((p) => p.metadata?.uid ?? "");
  requireThat(
    after.length === 2 && after.every((uid) => !before.includes(uid)),
    "the whole group was recreated (2 new pods)",
  );
  const s = seconds(deletedAt, servedAt);
  say(`served again ${s} s after the delete, by a recreated group`);
  return s;
}

/** Raises every real node's advertised nvidia.com/gpu (the harness's JSON patch on the node status). */
async function setNodeGpus(kc: KubeConfig, cluster: RealCluster, gpus: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const path = `/status/capacity/${GPU_RESOURCE.replace("/", "~1")}`;
  for (const node of cluster.nodes) {
    await core.patchNodeStatus(
      { name: node.name, body: [{ op: "replace", path, value: String(gpus) }] },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    await pollUntil(`${node.name} allocatable ${GPU_RESOURCE} ${gpus}`, 60_000, async () => {
      const n = await core.readNode({ name: node.name });
      return n.status?.allocatable?.[GPU_RESOURCE] === String(gpus);
    });
  }
  say(`each real node now advertises ${gpus} ${GPU_RESOURCE}`);
}

/** A helm upgrade that changes the pods while 2 clients stream completions; returns the failed requests. */
async function upgradeUnderLoad(helm: Helm, mds: Deployments, baseUrl: string, shape: ReleaseShape) {
  const before = (await mds.get(DEPLOYMENT)).status?.revision ?? "";
  const load = new Load({ url: baseUrl, model: SERVED_NAME, clients: 2, maxTokens: 8, timeoutMs: 60_000 });
  load.start();
  const startedAt = Date.now();
  say(`helm upgrade under load: maxModelLength ${shape.maxModelLength} (a new revision of the pods)`);
  try {
    await helm.apply(RELEASE, NAMESPACE, chartValues(shape), HELM_TIMEOUT_S);
    const phases = new Set<string>();
    let fewestAvailable = 2;
    await mds.waitFor(
      "rolled to the new revision and serving",
      DEPLOYMENT,
      SERVING_MS,
      (md: ModelDeployment) => {
        const groups = md.status?.groups ?? [];
        for (const g of groups) phases.add(`${g.replica}:${g.phase}`);
        fewestAvailable = Math.min(fewestAvailable, groups.filter((g) => g.phase === "Available").length);
        return md.status?.revision !== before && md.status?.updatedReplicas === 2 && serving(md, 2);
      },
    );
    say(`rolled in ${seconds(startedAt)} s; group phases seen: ${[...phases].sort().join(" ")}`);
    requireThat(
      [...phases].some((p) => p.endsWith("Draining")),
      "a group was drained before deletion",
    );
    // maxUnavailable 1: one group at a time, the other serving throughout.
    requireThat(fewestAvailable >= 1, "one group Available at every status read during the rollout");
  } finally {
    await load.stop();
  }
  const failed = load.count("failed") + load.count("hung");
  say(
    `${load.records.length} requests during the upgrade, ${failed} failed` +
      (failed > 0 ? `: ${load.failureSample().join("; ")}` : ""),
  );
  return failed;
}

async function deleteAllModelDeployments(kc: KubeConfig): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const crd = { group: STRATA_API_GROUP, version: MODEL_DEPLOYMENT_VERSION, plural: MODEL_DEPLOYMENT_PLURAL };
  const list = (await custom.listClusterCustomObject(crd)) as {
    items: { metadata: { namespace: string; name: string } }[];
  };
  for (const md of list.items) {
    await custom.deleteNamespacedCustomObject({
      ...crd,
      namespace: md.metadata.namespace,
      name: md.metadata.name,
    });
  }
}

main().then(
  () => {
    say(`setup: ${JSON.stringify(setup)}`);
    for (const line of unmet) say(`FAILED: ${line}`);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    if (unmet.length > 0) process.exitCode = 1;
  },
  (err: unknown) => {
    say(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
    if (!(err instanceof RequirementError) && err instanceof Error && err.stack) say(err.stack);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    process.exitCode = 1;
  },
);
