import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { request } from "node:http";
import {
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1Container,
  type V1Pod,
} from "@kubernetes/client-node";
import { STRATA_IMAGE } from "@strata/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CgroupTree } from "../host/cgroups.js";
import { mountsUnder } from "../host/mounts.js";
import { ensureTestImages } from "../images/index.js";
import {
  createTestNamespace,
  GPU_RESOURCE,
  KUBERNETES_VERSION,
  NODE_LABELS,
  pollUntil,
  type RealCluster,
  startRealCluster,
} from "./index.js";

// One cluster with two real nodes for the file: each node a containerd,
// kubelet and kube-proxy in a network namespace of its own; pods run the
// Strata image built by the test setup. Every test makes its own namespace.

const WAIT_MS = 90_000;
const ECHO_PORT = 8080;

let cluster: RealCluster;
let kc: KubeConfig;
let core: CoreV1Api;
let hostIptablesBefore = "";

beforeAll(async () => {
  const images = await ensureTestImages();
  hostIptablesBefore = iptablesRules();
  const started = Date.now();
  cluster = await startRealCluster({ pauseImage: images.pause, images: [images.strata] });
  console.log(
    `real nodes: ${cluster.nodes.length} Ready with GPUs in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(${cluster.timings.map((t) => `${t.step} ${t.seconds.toFixed(1)}`).join(", ")}); ` +
      `Strata image archive ${(images.strata.bytes / 1e6).toFixed(0)} MB`,
  );
  kc = cluster.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await cluster?.stop();
});

interface PodOptions {
  readonly node?: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly labels?: Record<string, string>;
  readonly serviceAccountName?: string;
  readonly gpus?: number;
  readonly ports?: V1Container["ports"];
  readonly readinessProbe?: V1Container["readinessProbe"];
  readonly restartPolicy?: "Never" | "Always";
}

function strataPod(name: string, o: PodOptions): V1Pod {
  return {
    metadata: { name, labels: o.labels ?? {} },
    spec: {
      ...(o.node !== undefined ? { nodeName: o.node } : { nodeSelector: { [NODE_LABELS.pool]: "real" } }),
      restartPolicy: o.restartPolicy ?? "Never",
      terminationGracePeriodSeconds: 1,
      ...(o.serviceAccountName !== undefined ? { serviceAccountName: o.serviceAccountName } : {}),
      containers: [
        {
          name: "main",
          image: STRATA_IMAGE,
          imagePullPolicy: "Never",
          ...(o.command !== undefined ? { command: o.command } : {}),
          ...(o.args !== undefined ? { args: o.args } : {}),
          ...(o.ports !== undefined ? { ports: o.ports } : {}),
          ...(o.readinessProbe !== undefined ? { readinessProbe: o.readinessProbe } : {}),
          ...(o.gpus !== undefined ? { resources: { limits: { [GPU_RESOURCE]: String(o.gpus) } } } : {}),
        },
      ],
    },
  };
}

/** A Node one-liner as the container's command (the image's node, from its PATH). */
const nodeScript = (script: string): string[] => ["node", "-e", script];

async function waitForPod(ns: string, name: string, done: (pod: V1Pod) => boolean): Promise<V1Pod> {
  let pod: V1Pod | undefined;
  await pollUntil(`pod ${ns}/${name}`, WAIT_MS, async () => {
    pod = await core.readNamespacedPod({ namespace: ns, name });
    if (pod.status?.phase === "Failed") {
      const log = await core.readNamespacedPodLog({ namespace: ns, name }).catch(() => "");
      throw new Error(`pod ${ns}/${name} failed: ${log}`);
    }
    return done(pod);
  });
  if (pod === undefined) throw new Error("unreachable");
  return pod;
}

const succeeded = (pod: V1Pod): boolean => pod.status?.phase === "Succeeded";
const ready = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

async function runToCompletion(
  ns: string,
  name: string,
  o: PodOptions,
): Promise<{ pod: V1Pod; log: string }> {
  await core.createNamespacedPod({ namespace: ns, body: strataPod(name, o) });
  const pod = await waitForPod(ns, name, succeeded);
  return { pod, log: await core.readNamespacedPodLog({ namespace: ns, name }) };
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5_000 }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

function iptablesRules(): string {
  return execFileSync("iptables", ["-S"], { encoding: "utf8" });
}

describe("real Kubernetes nodes", () => {
  it("registers two kubelets Ready, each on its own IP, with the GPU, zone and rack labels of the KWOK pools", async () => {
    expect(cluster.nodes).toHaveLength(2);
    const ips = new Set<string>();
    for (const { name, ip } of cluster.nodes) {
      const node = await core.readNode({ name });
      expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      expect(node.status?.nodeInfo?.kubeletVersion).toBe(KUBERNETES_VERSION);
      expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.6\./);
      expect(node.status?.addresses?.find((a) => a.type === "InternalIP")?.address).toBe(ip);
      expect(node.metadata?.labels?.[NODE_LABELS.gpuProduct]).toBe("NVIDIA-H100-80GB-HBM3");
      expect(node.metadata?.labels?.[NODE_LABELS.gpuCount]).toBe("1");
      expect(node.metadata?.labels?.[NODE_LABELS.rack]).toBe("rack-a");
      expect(node.metadata?.labels?.[NODE_LABELS.zone]).toBe("zone-a");
      expect(node.metadata?.labels?.[NODE_LABELS.pool]).toBe("real");
      ips.add(ip);
    }
    expect(ips.size).toBe(2);
  });

  it("runs `strata --version` from the Strata image on each real node", async () => {
    const ns = await createTestNamespace(kc, "version");
    const runs = await Promise.all(
      cluster.nodes.map(({ name }, i) =>
        runToCompletion(ns, `version-${i}`, { node: name, args: ["--version"] }),
      ),
    );
    for (const [i, { pod, log }] of runs.entries()) {
      expect(pod.spec?.nodeName).toBe(cluster.nodes[i]?.name);
      expect(log.trim()).toBe("0.1.0");
      expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    }
  });

  it("lets a pod on one node reach a pod on the other by pod IP, headless-Service DNS name and ClusterIP Service", async () => {
    const ns = await createTestNamespace(kc, "network");
    const [nodeA, nodeB] = cluster.nodes;
    if (nodeA === undefined || nodeB === undefined) throw new Error("two nodes expected");
    const labels = { app: "echo" };
    await core.createNamespacedPod({
      namespace: ns,
      body: strataPod("echo", {
        node: nodeB.name,
        labels,
        restartPolicy: "Always",
        command: nodeScript(
          `require("http").createServer((q, s) => s.end("echo from " + require("os").hostname() + " uid " + process.getuid())).listen(${ECHO_PORT})`,
        ),
        ports: [{ name: "http", containerPort: ECHO_PORT }],
        readinessProbe: { httpGet: { path: "/", port: ECHO_PORT }, periodSeconds: 1 },
      }),
    });
    for (const [name, clusterIP] of [
      ["echo-headless", "None"],
      ["echo-svc", undefined],
    ] as const) {
      await core.createNamespacedService({
        namespace: ns,
        body: {
          metadata: { name },
          spec: { selector: labels, ...(clusterIP ? { clusterIP } : {}), ports: [{ port: ECHO_PORT }] },
        },
      });
    }
    const echo = await waitForPod(ns, "echo", ready);
    const podIp = echo.status?.podIP ?? "";
    expect(podIp.startsWith(nodeB.podSubnet.replace(/0\/24$/, ""))).toBe(true);

    const targets = [
      `http://${podIp}:${ECHO_PORT}/`,
      `http://echo-headless.${ns}.svc.cluster.local:${ECHO_PORT}/`,
      `http://echo-svc:${ECHO_PORT}/`,
    ];
    const { pod, log } = await runToCompletion(ns, "client", {
      node: nodeA.name,
      command: nodeScript(`
        const dns = require("dns").promises;
        (async () => {
          // CoreDNS and kube-proxy learn a new Service on their own schedule: until then a name is
          // not found and a connection is refused. Each step is retried for up to 30 s.
          const retried = async (step) => {
            for (let attempt = 1; ; attempt++) {
              try { return await step(); }
              catch (e) { if (attempt >= 60) throw e; await new Promise((r) => setTimeout(r, 500)); }
            }
          };
          console.log("resolved " + (await retried(() => dns.lookup("echo-headless.${ns}.svc.cluster.local"))).address);
          for (const url of ${JSON.stringify(targets)})
            console.log(url + " -> " + (await retried(async () => (await fetch(url)).text())));
        })().catch((e) => { console.error(e); process.exit(1); });`),
    });
    expect(pod.spec?.nodeName).toBe(nodeA.name);
    expect(pod.status?.podIP?.startsWith(nodeA.podSubnet.replace(/0\/24$/, ""))).toBe(true);
    expect(log).toContain(`resolved ${podIp}`);
    for (const url of targets) expect(log).toContain(`${url} -> echo from echo uid 10001`);
    // The host reaches pods too (its routes go through the node's address).
    expect(await httpGet(`http://${podIp}:${ECHO_PORT}/`)).toBe("echo from echo uid 10001");
  });

  it("lets a pod reach the API server through the kubernetes Service with its ServiceAccount token, limited by RBAC", async () => {
    const ns = await createTestNamespace(kc, "incluster");
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "reader" } } });
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: "pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "reader-pod-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns }],
      },
    });
    const { log } = await runToCompletion(ns, "in-cluster", {
      serviceAccountName: "reader",
      command: nodeScript(`
        const fs = require("fs"), https = require("https");
        const dir = "/var/run/secrets/kubernetes.io/serviceaccount";
        const get = (path) => new Promise((resolve, reject) => {
          const req = https.get({
            host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, path,
            ca: fs.readFileSync(dir + "/ca.crt"),
            headers: { authorization: "Bearer " + fs.readFileSync(dir + "/token", "utf8") },
          }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
          req.on("error", reject);
        });
        (async () => {
          console.log("host " + process.env.KUBERNETES_SERVICE_HOST);
          console.log("pods " + (await get("/api/v1/namespaces/" + fs.readFileSync(dir + "/namespace", "utf8") + "/pods")));
          console.log("nodes " + (await get("/api/v1/nodes")));
        })().catch((e) => { console.error(e); process.exit(1); });`),
    });
    expect(log).toContain("host 10.96.0.1");
    expect(log).toContain("pods 200");
    expect(log).toContain("nodes 403");
  });

  it("schedules pods requesting nvidia.com/gpu onto real nodes up to their capacity, and no further", async () => {
    const ns = await createTestNamespace(kc, "gpus");
    const sleeper = nodeScript("setInterval(() => {}, 1 << 30)");
    const names = cluster.nodes.map((_, i) => `gpu-${i}`);
    for (const name of names) {
      await core.createNamespacedPod({
        namespace: ns,
        body: strataPod(name, { gpus: 1, command: sleeper, restartPolicy: "Always" }),
      });
    }
    const pods = await Promise.all(
      names.map((name) => waitForPod(ns, name, (p) => p.status?.phase === "Running")),
    );
    const placed = pods.map((p) => p.spec?.nodeName);
    expect(new Set(placed)).toEqual(new Set(cluster.nodes.map((n) => n.name)));

    await core.createNamespacedPod({
      namespace: ns,
      body: strataPod("gpu-extra", { gpus: 1, command: sleeper }),
    });
    let message = "";
    await pollUntil("a FailedScheduling event", WAIT_MS, async () => {
      const events = await core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: "involvedObject.name=gpu-extra,reason=FailedScheduling",
      });
      message = events.items[0]?.message ?? "";
      return message !== "";
    });
    expect(message).toContain(`Insufficient ${GPU_RESOURCE}`);
  });

  it("stops every node and leaves no process, cgroup, mount, namespace, link, iptables rule or file behind", async () => {
    const pids = cluster.nodes.flatMap((n) => n.processes.map((p) => p.pid));
    const { slot } = cluster.network;
    const { dir } = cluster;
    await cluster.stop();

    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    for (const node of cluster.nodes) {
      expect(await (await CgroupTree.existing(node.cgroup)).pids()).toEqual([]);
      expect(existsSync(`/sys/fs/cgroup/memory${node.cgroup}`)).toBe(false);
      expect(existsSync(`/run/netns/${node.netns}`)).toBe(false);
    }
    expect(existsSync(`/sys/fs/cgroup/memory/strata-s${slot}-control`)).toBe(false);
    expect(await mountsUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
    expect(links).not.toMatch(new RegExp(` st(br|v)${slot}(n\\d+)?[:@]`));
    expect(iptablesRules()).toBe(hostIptablesBefore);
    const logLinks = existsSync("/var/log/containers") ? readdirSync("/var/log/containers") : [];
    for (const link of logLinks) {
      expect(readlinkSync(`/var/log/containers/${link}`).startsWith(`${dir}/`)).toBe(false);
    }
    // libcni's cache names each sandbox's network namespace, which lived under the cluster's directory.
    const cniResults = existsSync("/var/lib/cni/results") ? readdirSync("/var/lib/cni/results") : [];
    for (const file of cniResults) {
      expect(readFileSync(`/var/lib/cni/results/${file}`, "utf8")).not.toContain(dir);
    }
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(dir);
  });
});
