import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { runCommand } from "../host/commands.js";
import { renderKubeconfig } from "./kubeconfig.js";
import type { NodeNetwork } from "./node-network.js";
import type { ClientCertificate } from "./pki.js";
import { type ManagedProcess, startProcess } from "./processes.js";

/**
 * kube-proxy in iptables mode, in the node's network namespace (so its rules
 * are the node's alone), as user `system:kube-proxy` (bound to
 * `system:node-proxier` by default). The kubeconfig goes in the config file:
 * with --config, kube-proxy ignores the --kubeconfig flag.
 */
export interface KubeProxyOptions {
  readonly nodeName: string;
  readonly dir: string;
  readonly logDir: string;
  readonly network: NodeNetwork;
  readonly server: string;
  readonly caCertPem: string;
  readonly credentials: ClientCertificate;
  /** Every pod address in the cluster: traffic from outside it to a Service is masqueraded. */
  readonly clusterCidr: string;
  readonly binary: string;
  /** `cgroup.procs` files it joins before it starts (CgroupTree.procsFiles). */
  readonly cgroupProcs: readonly string[];
}

export async function startKubeProxy(opts: KubeProxyOptions): Promise<ManagedProcess> {
  const dir = join(opts.dir, "kube-proxy");
  await mkdir(dir, { recursive: true });
  const kubeconfig = join(dir, "kubeconfig");
  await writeFile(
    kubeconfig,
    renderKubeconfig({
      server: opts.server,
      caCertPem: opts.caCertPem,
      user: "system:kube-proxy",
      clientCertificate: opts.credentials,
    }),
    { mode: 0o600 },
  );
  const config = join(dir, "config.yaml");
  await writeFile(
    config,
    stringify({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      clientConnection: { kubeconfig },
      hostnameOverride: opts.nodeName,
      bindAddress: opts.network.ip,
      clusterCIDR: opts.clusterCidr,
      healthzBindAddress: "127.0.0.1:10256",
      metricsBindAddress: "127.0.0.1:10249",
      // conntrack table sizes and timeouts are host-wide sysctls: leave them alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    }),
  );
  return startProcess(
    "kube-proxy",
    "nsenter",
    [`--net=${opts.network.netnsPath}`, "--", opts.binary, `--config=${config}`],
    { logDir: opts.logDir, cgroupProcs: opts.cgroupProcs },
  );
}

/** `kube-proxy --cleanup` in the node's namespace: removes every chain and rule it made. */
export async function cleanupKubeProxy(binary: string, network: NodeNetwork): Promise<void> {
  await runCommand("nsenter", [`--net=${network.netnsPath}`, "--", binary, "--cleanup"]);
}
