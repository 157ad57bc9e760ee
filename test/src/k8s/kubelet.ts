import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { renderKubeconfig } from "./kubeconfig.js";
import type { NodeNetwork } from "./node-network.js";
import type { ClientCertificate } from "./pki.js";
import { type ManagedProcess, startProcess } from "./processes.js";

/**
 * One real node's kubelet, in the node's network namespace: its own root
 * directory, pod log directory and cgroup root (so two kubelets on one host
 * never touch each other's pods), registered under `nodeName` with the
 * node's IP. It authenticates as `system:node:<name>` with a client
 * certificate (the Node authorizer). Its own API (port 10250 on the node IP)
 * allows anonymous access: a test cluster on a private bridge only.
 */
export interface KubeletOptions {
  readonly nodeName: string;
  /** The node's directory; the kubelet's lives in `<dir>/kubelet`. */
  readonly dir: string;
  readonly logDir: string;
  readonly network: NodeNetwork;
  readonly server: string;
  readonly caCertPem: string;
  readonly credentials: ClientCertificate;
  readonly runtimeEndpoint: string;
  /** cgroup path that must already exist in every hierarchy (CgroupTree). */
  readonly cgroupRoot: string;
  readonly clusterDnsIp: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly binary: string;
  /** `cgroup.procs` files it joins before it starts (CgroupTree.procsFiles). */
  readonly cgroupProcs: readonly string[];
}

export interface Kubelet {
  readonly process: ManagedProcess;
  /** Where pod volumes (tmpfs for secrets and tokens) are mounted. */
  readonly rootDir: string;
  /** Where container logs go; /var/log/containers links into it. */
  readonly podLogsDir: string;
}

/** The kubelet's API port, on the node's own IP: every node has its own namespace. */
export const KUBELET_PORT = 10250;

export async function startKubelet(opts: KubeletOptions): Promise<Kubelet> {
  const dir = join(opts.dir, "kubelet");
  const rootDir = join(dir, "root");
  const podLogsDir = join(dir, "pod-logs");
  for (const d of [rootDir, podLogsDir, join(dir, "volume-plugins")]) await mkdir(d, { recursive: true });
  const kubeconfigPath = join(dir, "kubeconfig");
  await writeFile(
    kubeconfigPath,
    renderKubeconfig({
      server: opts.server,
      caCertPem: opts.caCertPem,
      user: `system:node:${opts.nodeName}`,
      clientCertificate: opts.credentials,
    }),
    { mode: 0o600 },
  );
  const configPath = join(dir, "config.yaml");
  await writeFile(configPath, stringify(kubeletConfiguration(opts, dir, podLogsDir)));
  const labels = Object.entries(opts.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const process = startProcess(
    "kubelet",
    "nsenter",
    [
      `--net=${opts.network.netnsPath}`,
      "--",
      opts.binary,
      `--config=${configPath}`,
      `--kubeconfig=${kubeconfigPath}`,
      `--root-dir=${rootDir}`,
      // Its default is /var/lib/kubelet/pki, whatever the root directory.
      `--cert-dir=${join(dir, "pki")}`,
      `--hostname-override=${opts.nodeName}`,
      `--node-ip=${opts.network.ip}`,
      `--node-labels=${labels}`,
    ],
    { logDir: opts.logDir, cgroupProcs: opts.cgroupProcs },
  );
  return { process, rootDir, podLogsDir };
}

function kubeletConfiguration(opts: KubeletOptions, dir: string, podLogsDir: string): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: opts.network.ip,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: "AlwaysAllow" },
    containerRuntimeEndpoint: opts.runtimeEndpoint,
    cgroupDriver: "cgroupfs",
    cgroupRoot: opts.cgroupRoot,
    cgroupsPerQOS: true,
    // These VMs expose cgroup v1, which Kubernetes 1.34 still runs on when asked.
    failCgroupV1: false,
    failSwapOn: false,
    clusterDomain: "cluster.local",
    clusterDNS: [opts.clusterDnsIp],
    // No host resolver for pods: names resolve through the cluster DNS only.
    resolvConf: "",
    podLogsDir,
    volumePluginDir: join(dir, "volume-plugins"),
    // A test node reserves nothing and evicts nothing; images are never garbage-collected.
    enforceNodeAllocatable: [],
    evictionHard: {},
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    nodeStatusUpdateFrequency: "5s",
    shutdownGracePeriod: "0s",
    registerNode: true,
  };
}
