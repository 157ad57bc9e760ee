import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { renderKubeconfig } from "./kubeconfig.js";
import { kwokStagesYaml } from "./kwok-stages.js";
import { type ControlPlanePki, createControlPlanePki, SERVICE_CLUSTER_IP_RANGE } from "./pki.js";
import { freePorts } from "./ports.js";
import { probe, waitFor } from "./probe.js";
import { ComponentError, type ManagedProcess, startProcess, stopProcess } from "./processes.js";
import { type K8sBinaries, k8sBinaries } from "./versions.js";

export type ComponentName = "etcd" | "kube-apiserver" | "kube-scheduler" | "kube-controller-manager" | "kwok";

export interface ControlPlaneOptions {
  /** Working directory (etcd data, certificates, kubeconfigs, logs). Default: a fresh temp dir. Removed by stop(). */
  readonly dir?: string;
  /** Leave the processes running when this Node process exits (`npm run k8s:up`). Default false. */
  readonly detached?: boolean;
  /** Deadline for every component to become ready. Default 90 s (the goal is well under 20 s). */
  readonly readyTimeoutMs?: number;
  /** Extra flags per component, e.g. `{ "kube-controller-manager": ["--node-monitor-grace-period=20s"] }`. */
  readonly extraArgs?: Partial<Record<ComponentName, readonly string[]>>;
  /** Binary paths; default the ones setup built into ~/.cache/strata. */
  readonly binaries?: K8sBinaries;
  /**
   * Serve the API on this host address instead of loopback, for real nodes:
   * their kubelets and pods reach it there (pods through the `kubernetes`
   * Service, whose endpoint it becomes). It goes in the serving certificate.
   */
  readonly advertiseAddress?: string;
  /** `cgroup.procs` files every component joins before it starts (real nodes' clusters). */
  readonly cgroupProcs?: readonly string[];
}

/** A running control plane on loopback (or on `advertiseAddress`). */
export interface ControlPlane {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** The CA and its key: real nodes get client certificates from it. */
  readonly pki: ControlPlanePki;
  /** Admin (`system:masters`) kubeconfig, as a file and as YAML text. */
  readonly kubeconfigPath: string;
  readonly kubeconfig: string;
  readonly caCertPem: string;
  readonly dir: string;
  /** Each component's pid (process-group leader) and log file. */
  readonly components: readonly ComponentInfo[];
  /** A fresh admin KubeConfig for @kubernetes/client-node. */
  kubeConfig(): KubeConfig;
  /** Stops every component (process groups) and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ComponentInfo {
  readonly name: ComponentName;
  readonly pid: number;
  readonly logPath: string;
}

/** Annotation that marks a node as one kwok manages (the selector kwok is started with). */
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";
export const KWOK_NODE_ANNOTATION_VALUE = "fake";

const DEFAULT_READY_TIMEOUT_MS = 90_000;
const NODE_LEASE_DURATION_SECONDS = 40;
const POD_CIDR = "10.244.0.1/16";

/** Starts etcd, kube-apiserver, kube-scheduler, kube-controller-manager and kwok on free loopback ports. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = opts.binaries ?? k8sBinaries();
  for (const bin of [
    bins.etcd,
    bins.kubeApiserver,
    bins.kubeScheduler,
    bins.kubeControllerManager,
    bins.kwok,
  ]) {
    if (!existsSync(bin)) {
      throw new ComponentError(`${bin} is missing: run \`npx tsc --build && node test/dist/setup.js\` first`);
    }
  }
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "strata-k8s-")));
  const logDir = join(dir, "logs");
  await mkdir(logDir, { recursive: true });
  const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const extra = (c: ComponentName): readonly string[] => opts.extraArgs?.[c] ?? [];
  const procs: ManagedProcess[] = [];
  const start = (name: ComponentName, bin: string, args: readonly string[]): ManagedProcess => {
    const p = startProcess(name, bin, [...args, ...extra(name)], {
      logDir,
      outliveParent: opts.detached,
      ...(opts.cgroupProcs !== undefined ? { cgroupProcs: opts.cgroupProcs } : {}),
    });
    procs.push(p);
    return p;
  };
  const stop = async (): Promise<void> => {
    await stopInOrder(procs, stopProcess);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const { etcdPort, etcdPeerPort, apiPort, schedulerPort, cmPort, kwokPort } = await freePorts([
      "etcdPort",
      "etcdPeerPort",
      "apiPort",
      "schedulerPort",
      "cmPort",
      "kwokPort",
    ] as const);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = start("etcd", bins.etcd, etcdArgs(dir, etcdUrl, `http://127.0.0.1:${etcdPeerPort}`));
    const address = opts.advertiseAddress ?? "127.0.0.1";
    const pki = await createControlPlanePki(dir, opts.advertiseAddress !== undefined ? [address] : []);
    await waitFor("etcd", () => probe(`${etcdUrl}/health`), [etcd], timeoutMs);

    const server = `https://${address}:${apiPort}`;
    const apiserver = start(
      "kube-apiserver",
      bins.kubeApiserver,
      apiserverArgs(dir, pki, etcdUrl, address, apiPort),
    );
    const kubeconfigs = await writeKubeconfigs(dir, server, pki);
    const readyz = (): Promise<boolean> =>
      probe(`${server}/readyz`, { ca: pki.caCertPem, token: pki.tokens.admin });
    await waitFor("kube-apiserver /readyz", readyz, [etcd, apiserver], timeoutMs);

    const componentArgs = (kubeconfig: string, port: number): string[] => [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      "--leader-elect=false",
    ];
    const scheduler = start(
      "kube-scheduler",
      bins.kubeScheduler,
      componentArgs(kubeconfigs.scheduler, schedulerPort),
    );
    const cm = start("kube-controller-manager", bins.kubeControllerManager, [
      ...componentArgs(kubeconfigs.controllerManager, cmPort),
      `--service-account-private-key-file=${pki.serviceAccountPrivateKeyPath}`,
      `--root-ca-file=${pki.caCertPath}`,
      "--use-service-account-credentials=true",
      "--cluster-name=strata-test",
    ]);
    const kwokConfig = join(dir, "kwok.yaml");
    await writeFile(kwokConfig, kwokStagesYaml());
    const kwok = start("kwok", bins.kwok, [
      `--kubeconfig=${kubeconfigs.admin}`,
      `--config=${kwokConfig}`,
      "--manage-all-nodes=false",
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=${KWOK_NODE_ANNOTATION_VALUE}`,
      `--node-lease-duration-seconds=${NODE_LEASE_DURATION_SECONDS}`,
      `--cidr=${POD_CIDR}`,
      `--server-address=127.0.0.1:${kwokPort}`,
    ]);

    const all = [etcd, apiserver, scheduler, cm, kwok];
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigs.adminYaml);
    const core = kc.makeApiClient(CoreV1Api);
    await Promise.all([
      waitFor(
        "kube-scheduler /healthz",
        () => probe(`https://127.0.0.1:${schedulerPort}/healthz`),
        all,
        timeoutMs,
      ),
      waitFor(
        "kube-controller-manager /healthz",
        () => probe(`https://127.0.0.1:${cmPort}/healthz`),
        all,
        timeoutMs,
      ),
      waitFor("kwok /healthz", () => probe(`http://127.0.0.1:${kwokPort}/healthz`), all, timeoutMs),
      // The service-account controller is running once the default namespace has its ServiceAccount.
      waitFor(
        "the default ServiceAccount",
        async () =>
          (await core.readNamespacedServiceAccount({ name: "default", namespace: "default" })) !== undefined,
        all,
        timeoutMs,
      ),
    ]);

    return {
      server,
      pki,
      kubeconfigPath: kubeconfigs.admin,
      kubeconfig: kubeconfigs.adminYaml,
      caCertPem: pki.caCertPem,
      dir,
      components: procs.map((p) => ({ name: p.name as ComponentName, pid: p.pid, logPath: p.logPath })),
      kubeConfig: () => {
        const fresh = new KubeConfig();
        fresh.loadFromString(kubeconfigs.adminYaml);
        return fresh;
      },
      stop,
    };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

/**
 * Clients first, then the API server, then etcd: an API server whose etcd is
 * gone cannot finish its graceful shutdown and waits for SIGKILL.
 */
export async function stopInOrder<T extends { readonly name: string }>(
  components: readonly T[],
  stopOne: (c: T) => Promise<void>,
): Promise<void> {
  const tiers = [["kwok", "kube-scheduler", "kube-controller-manager"], ["kube-apiserver"]];
  for (const tier of tiers) await Promise.all(components.filter((c) => tier.includes(c.name)).map(stopOne));
  await Promise.all(components.map(stopOne));
}

function etcdArgs(dir: string, clientUrl: string, peerUrl: string): string[] {
  return [
    "--name=strata-test",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=strata-test=${peerUrl}`,
    // Throwaway data: skipping fsync keeps a test cluster fast on a shared disk.
    "--unsafe-no-fsync",
    "--log-level=warn",
  ];
}

function apiserverArgs(
  dir: string,
  pki: ControlPlanePki,
  etcdUrl: string,
  address: string,
  port: number,
): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${port}`,
    `--cert-dir=${join(dir, "apiserver-certs")}`,
    `--tls-cert-file=${pki.servingCertPath}`,
    `--tls-private-key-file=${pki.servingKeyPath}`,
    `--token-auth-file=${pki.tokenFilePath}`,
    // Real nodes' kubelets and kube-proxies authenticate with client certificates.
    `--client-ca-file=${pki.caCertPath}`,
    "--authorization-mode=Node,RBAC",
    // Real nodes share the host's name; the API server reaches each kubelet (logs, exec) by its IP.
    "--kubelet-preferred-address-types=InternalIP",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPublicKeyPath}`,
    `--service-account-signing-key-file=${pki.serviceAccountPrivateKeyPath}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    "--profiling=false",
  ];
}

interface Kubeconfigs {
  readonly admin: string;
  readonly adminYaml: string;
  readonly scheduler: string;
  readonly controllerManager: string;
}

async function writeKubeconfigs(dir: string, server: string, pki: ControlPlanePki): Promise<Kubeconfigs> {
  const write = async (file: string, user: string, token: string): Promise<[string, string]> => {
    const yaml = renderKubeconfig({ server, caCertPem: pki.caCertPem, token, user });
    const path = join(dir, file);
    await writeFile(path, yaml, { mode: 0o600 });
    return [path, yaml];
  };
  const [admin, adminYaml] = await write("admin.kubeconfig", "strata-admin", pki.tokens.admin);
  const [scheduler] = await write("scheduler.kubeconfig", "system:kube-scheduler", pki.tokens.scheduler);
  const [controllerManager] = await write(
    "controller-manager.kubeconfig",
    "system:kube-controller-manager",
    pki.tokens.controllerManager,
  );
  return { admin, adminYaml, scheduler, controllerManager };
}
