import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { CgroupTree } from "../host/cgroups.js";
import { runCommand } from "../host/commands.js";
import { unmountUnder } from "../host/mounts.js";
import { ensureNodePackages } from "../host/packages.js";
import type { ImageArchive } from "../images/cache.js";
import {
  type Containerd,
  importImage,
  removeAllContainers,
  removeHostLeftovers,
  startContainerd,
} from "./containerd.js";
import { type ControlPlane, startControlPlane } from "./control-plane.js";
import { startCoreDns } from "./coredns.js";
import { cleanupKubeProxy, startKubeProxy } from "./kube-proxy.js";
import { type Kubelet, startKubelet } from "./kubelet.js";
import { type ClusterNetwork, createClusterNetwork, type NodeNetwork } from "./node-network.js";
import { GPU_RESOURCE, type GpuNodePool, gpuPoolLabels, waitForNodeReady } from "./nodes.js";
import { CLUSTER_DNS_IP, issueClientCertificate } from "./pki.js";
import { pollUntil } from "./poll.js";
import { freePorts } from "./ports.js";
import { ComponentError, logTail, type ManagedProcess, stopProcess } from "./processes.js";
import { k8sBinaries } from "./versions.js";

/**
 * A control plane with real nodes: each node a containerd, kubelet and
 * kube-proxy in a network namespace of its own, pods on a CNI bridge, CoreDNS
 * for cluster names, and the API server on an address pods reach. Nodes carry
 * the same GPU, zone and rack labels as the KWOK pools and advertise
 * `nvidia.com/gpu` as an extended resource (patched into their status, the
 * documented way for a resource no device plugin reports), so gang admission
 * and rack affinity apply unchanged. KWOK still runs, for fake nodes beside
 * the real ones. Needs root (namespaces, cgroups, mounts).
 */
export type RealNodePool = Pick<
  GpuNodePool,
  "name" | "count" | "gpusPerNode" | "gpuProduct" | "gpuMemoryMiB" | "labels" | "extraLabels"
>;

export interface RealClusterOptions {
  /** Real nodes, named `<name>-0`, `<name>-1`, … Default: 2 nodes with 1 GPU each in one rack. */
  readonly pool?: RealNodePool;
  /** Images imported into every node's containerd (the pause image always is). */
  readonly images?: readonly ImageArchive[];
  readonly pauseImage: ImageArchive;
  /** Working directory; default a fresh temp dir. Removed by stop(). */
  readonly dir?: string;
  /** Deadline for each node to register Ready with its GPUs. Default 120 s. */
  readonly readyTimeoutMs?: number;
}

export interface RealCluster {
  /** Everything on disk (control plane, nodes, logs); removed by stop(). */
  readonly dir: string;
  readonly controlPlane: ControlPlane;
  readonly network: ClusterNetwork;
  readonly nodes: readonly RealNode[];
  /** How long each start-up step took, for reports. */
  readonly timings: readonly StartupTiming[];
  kubeConfig(): KubeConfig;
  /** Stops everything and leaves nothing: processes, mounts, cgroups, namespaces, links, files. Safe to call twice. */
  stop(): Promise<void>;
}

/** Seconds from the start of startRealCluster until each step finished. */
export interface StartupTiming {
  readonly step: string;
  readonly seconds: number;
}

export interface RealNode {
  readonly name: string;
  readonly ip: string;
  readonly podSubnet: string;
  readonly netns: string;
  /** cgroup subtree holding the node's containerd, shims and pods. */
  readonly cgroup: string;
  readonly dir: string;
  readonly processes: readonly ManagedProcess[];
}

export const DEFAULT_REAL_POOL: RealNodePool = {
  name: "real",
  count: 2,
  gpusPerNode: 1,
  gpuProduct: "NVIDIA-H100-80GB-HBM3",
  labels: { zone: "zone-a", rack: "rack-a", nvlinkDomain: (i) => `rack-a-nvl-${i}` },
};

const DEFAULT_READY_TIMEOUT_MS = 120_000;
/** Upper bound of the cluster's in-memory directory; only what is written uses memory (~1 GB for two nodes with the Strata and NATS images). */
const TMPFS_SIZE = "8g";
/** Children of a node's cgroup: containerd and its shims; the kubelet and kube-proxy (pods go in kubepods). */
const RUNTIME_CGROUP = "runtime";
const AGENTS_CGROUP = "agents";
/** kubelet /var/log/containers links into each node's pod log directory; removed at teardown. */
const CONTAINER_LOG_LINKS = "/var/log/containers";

interface NodeRuntime {
  readonly node: RealNode;
  readonly network: NodeNetwork;
  readonly cgroup: CgroupTree;
  containerd?: Containerd;
  kubelet?: Kubelet;
  kubeProxy?: ManagedProcess;
}

export async function startRealCluster(opts: RealClusterOptions): Promise<RealCluster> {
  if (process.getuid?.() !== 0)
    throw new ComponentError("real nodes need root (namespaces, cgroups, mounts)");
  await ensureNodePackages((line) => console.log(line));
  const bins = k8sBinaries();
  for (const bin of [bins.kubelet, bins.kubeProxy, bins.coredns]) {
    if (!existsSync(bin)) {
      throw new ComponentError(`${bin} is missing: run \`npx tsc --build && node test/dist/setup.js\` first`);
    }
  }
  const pool = opts.pool ?? DEFAULT_REAL_POOL;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "strata-k8s-real-")));
  await mkdir(dir, { recursive: true });
  // Nodes unpack hundreds of MB of image layers, and teardown deletes them: in
  // memory both take a fraction of the time they take on disk.
  await runCommand("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE},mode=0700`, "strata-k8s-real", dir]);
  let network: ClusterNetwork;
  let controlCgroup: CgroupTree;
  try {
    network = await createClusterNetwork(pool.count, { dir, cleanStale: cleanStaleSlot });
    controlCgroup = await CgroupTree.create(controlCgroupPath(network.slot));
  } catch (err: unknown) {
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const runtimes: NodeRuntime[] = [];
  let controlPlane: ControlPlane | undefined;
  let coredns: ManagedProcess | undefined;
  // A crashed run's processes die with it; its mounts, namespaces and cgroups
  // are cleaned by the next run that claims the slot (cleanStaleSlot).
  const killOnExit = (): void => {
    controlCgroup.killAllSync();
    for (const r of runtimes) r.cgroup.killAllSync();
  };
  process.on("exit", killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopAll();
    return stopping;
  };
  const stopAll = async (): Promise<void> => {
    process.removeListener("exit", killOnExit);
    const failures: string[] = [];
    await Promise.all(runtimes.map((r) => stopNode(r, bins.kubeProxy, failures)));
    if (coredns !== undefined) await stopProcess(coredns);
    await controlPlane?.stop();
    const survivors = await controlCgroup.killAll();
    if (survivors.length > 0)
      failures.push(`control plane: processes survived SIGKILL: ${survivors.join(" ")}`);
    await controlCgroup
      .remove()
      .catch((err: unknown) => failures.push(`control plane cgroup: ${String(err)}`));
    await network.teardown();
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
    if (failures.length > 0)
      throw new ComponentError(`teardown left something behind:\n${failures.join("\n")}`);
  };

  const timings: StartupTiming[] = [];
  const started = Date.now();
  const timed = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
    const result = await run();
    timings.push({ step, seconds: (Date.now() - started) / 1000 });
    return result;
  };
  try {
    for (const net of network.nodes) {
      const name = `${pool.name}-${net.index}`;
      const cgroupPath = `/${net.netns}`;
      const node: RealNode = {
        name,
        ip: net.ip,
        podSubnet: net.podSubnet,
        netns: net.netns,
        cgroup: cgroupPath,
        dir: join(dir, "nodes", name),
        processes: [],
      };
      const cgroup = await CgroupTree.create(cgroupPath, [RUNTIME_CGROUP, AGENTS_CGROUP]);
      runtimes.push({ node, network: net, cgroup });
    }
    // Containerd and its images need no API server: they start beside the control plane.
    const images = [opts.pauseImage, ...(opts.images ?? [])];
    const startControlPlaneAndDns = async (): Promise<ControlPlane> => {
      const ready = await timed("control plane ready", () =>
        startControlPlane({
          dir: join(dir, "control-plane"),
          advertiseAddress: network.hostIp,
          cgroupProcs: controlCgroup.procsFiles(),
        }),
      );
      controlPlane = ready;
      const { readyPort } = await freePorts(["readyPort"] as const);
      await mkdir(join(dir, "logs"), { recursive: true });
      coredns = await timed("CoreDNS ready", async () =>
        startCoreDns(ready.kubeConfig(), {
          dir,
          logDir: join(dir, "logs"),
          hostIp: network.hostIp,
          clusterIp: CLUSTER_DNS_IP,
          readyPort,
          binary: bins.coredns,
          cgroupProcs: controlCgroup.procsFiles(),
        }),
      );
      return controlPlane;
    };
    const controlPlaneReady = startControlPlaneAndDns();
    await allSettled<unknown>([
      controlPlaneReady,
      ...runtimes.map((r) => timed(`${r.node.name} containerd with images`, () => startRuntime(r, images))),
    ]);
    const cp = await controlPlaneReady;
    const kc = cp.kubeConfig();
    await allSettled(
      runtimes.map((r) => startAgents(r, cp, pool, network.podCidr, bins.kubelet, bins.kubeProxy)),
    );
    const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    await allSettled(
      runtimes.map((r) =>
        timed(`${r.node.name} Ready with ${GPU_RESOURCE}`, () =>
          advertiseGpus(kc, r.node.name, pool.gpusPerNode, timeoutMs),
        ),
      ),
    );
    return {
      dir,
      controlPlane: cp,
      network,
      nodes: runtimes.map((r) => ({
        ...r.node,
        processes: [r.containerd?.process, r.kubelet?.process, r.kubeProxy].filter((p) => p !== undefined),
      })),
      timings,
      kubeConfig: () => cp.kubeConfig(),
      stop,
    };
  } catch (err: unknown) {
    // The logs go with the directory: keep their tails in the error.
    const tails = await Promise.all(
      runtimes.flatMap((r) =>
        [r.containerd?.process, r.kubelet?.process, r.kubeProxy].map(async (p) =>
          p === undefined ? "" : `--- ${r.node.name} ${p.name}\n${await logTail(p, 15)}`,
        ),
      ),
    );
    await stop().catch((stopErr: unknown) => console.error(String(stopErr)));
    const message = err instanceof Error ? err.message : String(err);
    throw new ComponentError(`real nodes did not start: ${message}\n${tails.join("\n")}`, { cause: err });
  }
}

async function startRuntime(r: NodeRuntime, images: readonly ImageArchive[]): Promise<void> {
  const logDir = join(r.node.dir, "logs");
  await mkdir(logDir, { recursive: true });
  r.containerd = await startContainerd({
    dir: r.node.dir,
    logDir,
    network: r.network,
    cgroup: `${r.node.cgroup}/${RUNTIME_CGROUP}`,
    sandboxImage: images[0]?.name ?? "",
    cgroupProcs: r.cgroup.procsFiles(RUNTIME_CGROUP),
  });
  for (const image of images) await importImage(r.containerd, image.path);
}

/** The kubelet, registering the node with the pool's labels, and kube-proxy. */
async function startAgents(
  r: NodeRuntime,
  cp: ControlPlane,
  pool: RealNodePool,
  clusterCidr: string,
  kubeletBinary: string,
  kubeProxyBinary: string,
): Promise<void> {
  const { node } = r;
  if (r.containerd === undefined) throw new ComponentError(`${node.name}: containerd is not running`);
  const logDir = join(node.dir, "logs");
  const credentials = await issueClientCertificate(
    cp.pki,
    node.dir,
    `system:node:${node.name}`,
    "system:nodes",
  );
  r.kubelet = await startKubelet({
    nodeName: node.name,
    dir: node.dir,
    logDir,
    network: r.network,
    server: cp.server,
    caCertPem: cp.caCertPem,
    credentials,
    runtimeEndpoint: r.containerd.endpoint,
    cgroupRoot: node.cgroup,
    clusterDnsIp: CLUSTER_DNS_IP,
    labels: gpuPoolLabels(pool, r.network.index),
    binary: kubeletBinary,
    cgroupProcs: r.cgroup.procsFiles(AGENTS_CGROUP),
  });
  r.kubeProxy = await startKubeProxy({
    nodeName: node.name,
    dir: node.dir,
    logDir,
    network: r.network,
    server: cp.server,
    caCertPem: cp.caCertPem,
    credentials: await issueClientCertificate(cp.pki, node.dir, "system:kube-proxy"),
    clusterCidr,
    binary: kubeProxyBinary,
    cgroupProcs: r.cgroup.procsFiles(AGENTS_CGROUP),
  });
}

/**
 * Like Promise.all, but waits for every promise to settle before rejecting
 * with the first failure, so teardown never races a step still starting.
 */
async function allSettled<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * Adds `nvidia.com/gpu` to the node's status capacity (JSON patch on the
 * status subresource); the kubelet then reports it as allocatable too.
 * https://kubernetes.io/docs/tasks/administer-cluster/extended-resource-node/
 */
async function advertiseGpus(kc: KubeConfig, name: string, gpus: number, timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await pollUntil(
    `node ${name} registered`,
    timeoutMs,
    async () => (await core.readNode({ name })) !== undefined,
  );
  const path = `/status/capacity/${GPU_RESOURCE.replace("/", "~1")}`;
  await core.patchNodeStatus(
    { name, body: [{ op: "add", path, value: String(gpus) }] },
    setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
  );
  await waitForNodeReady(kc, name, true, timeoutMs);
  await pollUntil(`node ${name} allocatable ${GPU_RESOURCE}`, timeoutMs, async () => {
    const node = await core.readNode({ name });
    return node.status?.allocatable?.[GPU_RESOURCE] === String(gpus);
  });
}

/**
 * Kube-proxy and kubelet first (their rules cleaned), then every container
 * through containerd, then containerd; whatever is still in the node's cgroup
 * subtree is killed; then mounts, host leftovers and the cgroups go.
 */
async function stopNode(r: NodeRuntime, kubeProxyBinary: string, failures: string[]): Promise<void> {
  const note = (what: string) => (err: unknown) =>
    failures.push(`${r.node.name}: ${what}: ${err instanceof Error ? err.message : String(err)}`);
  if (r.kubeProxy !== undefined) {
    await stopProcess(r.kubeProxy);
    await cleanupKubeProxy(kubeProxyBinary, r.network).catch(note("kube-proxy --cleanup"));
  }
  if (r.kubelet !== undefined) await stopProcess(r.kubelet.process);
  let containerIds: string[] = [];
  if (r.containerd !== undefined) {
    containerIds = await removeAllContainers(r.containerd).catch(() => []);
    await stopProcess(r.containerd.process);
  }
  const survivors = await r.cgroup.killAll();
  if (survivors.length > 0)
    failures.push(`${r.node.name}: processes survived SIGKILL: ${survivors.join(" ")}`);
  if (r.containerd !== undefined) await removeHostLeftovers(r.containerd, containerIds);
  await unmountUnder(r.node.dir).catch(note("unmount"));
  await removeContainerLogLinks(r.node.dir);
  await r.cgroup.remove().catch(note("cgroup removal"));
}

/** Cleans a slot whose test run died: its processes, mounts, cgroups and files. */
async function cleanStaleSlot(slot: number, staleDir: string | undefined): Promise<void> {
  const paths = [controlCgroupPath(slot), ...Array.from({ length: 16 }, (_, i) => `/strata-s${slot}-n${i}`)];
  for (const path of paths) {
    const tree = await CgroupTree.existing(path);
    await tree.killAll();
    await tree.remove().catch(() => undefined);
  }
  if (staleDir !== undefined) {
    await unmountUnder(staleDir);
    await removeContainerLogLinks(staleDir);
    await rm(staleDir, { recursive: true, force: true });
  }
}

/** The cgroup of a cluster's control plane and CoreDNS, so a crashed run's can be found and killed. */
function controlCgroupPath(slot: number): string {
  return `/strata-s${slot}-control`;
}

async function removeContainerLogLinks(nodeDir: string): Promise<void> {
  if (!existsSync(CONTAINER_LOG_LINKS)) return;
  for (const entry of await readdir(CONTAINER_LOG_LINKS)) {
    const link = join(CONTAINER_LOG_LINKS, entry);
    const target = await readlink(link).catch(() => "");
    if (target.startsWith(`${nodeDir}/`)) await rm(link, { force: true });
  }
}
