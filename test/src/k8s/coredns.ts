import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { probe, waitFor } from "./probe.js";
import { type ManagedProcess, startProcess } from "./processes.js";
import { serviceAccountKubeconfig } from "./service-account.js";

/**
 * Cluster DNS for real nodes: CoreDNS on the host's bridge address, port 53,
 * with the `kubernetes` plugin (Services, headless Services' pods, pod
 * names), behind the `kube-dns` Service at a fixed ClusterIP, so pods reach
 * it through kube-proxy as in any cluster. It answers for the cluster's zones
 * only: no forwarding to the host's resolvers. It reads the API as a
 * ServiceAccount bound to a ClusterRole with just the reads it needs.
 */
export interface CoreDnsOptions {
  readonly dir: string;
  readonly logDir: string;
  /** The host address pods reach (the bridge); CoreDNS binds only there. */
  readonly hostIp: string;
  readonly clusterIp: string;
  /** Loopback port of the `ready` plugin. */
  readonly readyPort: number;
  readonly binary: string;
  /** `cgroup.procs` files it joins before it starts (CgroupTree.procsFiles). */
  readonly cgroupProcs: readonly string[];
}

export const CLUSTER_DOMAIN = "cluster.local";
const NAMESPACE = "kube-system";
const NAME = "coredns";
const CLUSTER_ROLE = "strata-test:coredns";
const READY_TIMEOUT_MS = 60_000;

export async function startCoreDns(kc: KubeConfig, opts: CoreDnsOptions): Promise<ManagedProcess> {
  const dir = join(opts.dir, "coredns");
  await mkdir(dir, { recursive: true });
  await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRole({
    body: {
      metadata: { name: CLUSTER_ROLE },
      rules: [
        {
          apiGroups: [""],
          resources: ["endpoints", "services", "pods", "namespaces"],
          verbs: ["list", "watch"],
        },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
  });
  const kubeconfig = join(dir, "kubeconfig");
  await writeFile(
    kubeconfig,
    await serviceAccountKubeconfig(kc, { namespace: NAMESPACE, name: NAME, clusterRoleName: CLUSTER_ROLE }),
    { mode: 0o600 },
  );
  const corefile = join(dir, "Corefile");
  await writeFile(
    corefile,
    `.:53 {
    bind ${opts.hostIp}
    errors
    ready 127.0.0.1:${opts.readyPort}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig}
        pods insecure
        ttl 5
    }
}
`,
  );
  const process = startProcess("coredns", opts.binary, ["-conf", corefile], {
    logDir: opts.logDir,
    cgroupProcs: opts.cgroupProcs,
  });
  await createKubeDnsService(kc, opts.hostIp, opts.clusterIp);
  // `ready` answers once the kubernetes plugin has synced its caches.
  await waitFor(
    "CoreDNS ready",
    () => probe(`http://127.0.0.1:${opts.readyPort}/ready`),
    [process],
    READY_TIMEOUT_MS,
  );
  return process;
}

/** `kube-dns` at the fixed ClusterIP the kubelets name, with the host's CoreDNS as its one endpoint. */
async function createKubeDnsService(kc: KubeConfig, hostIp: string, clusterIp: string): Promise<void> {
  const ports = [
    { name: "dns", port: 53, protocol: "UDP" },
    { name: "dns-tcp", port: 53, protocol: "TCP" },
  ];
  await kc.makeApiClient(CoreV1Api).createNamespacedService({
    namespace: NAMESPACE,
    body: {
      metadata: { name: "kube-dns", labels: { "k8s-app": "kube-dns" } },
      spec: { clusterIP: clusterIp, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
    },
  });
  await kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: NAMESPACE,
    body: {
      metadata: {
        name: "kube-dns-host",
        labels: {
          "kubernetes.io/service-name": "kube-dns",
          "endpointslice.kubernetes.io/managed-by": "strata-test-harness",
        },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [hostIp], conditions: { ready: true } }],
      ports: ports.map((p) => ({ name: p.name, port: 53, protocol: p.protocol })),
    },
  });
}
