import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Pinned versions of everything the Kubernetes harness runs. Changing one
 * changes its cache directory, so the next `node test/dist/setup.js` builds it
 * afresh instead of reusing a stale binary.
 */
export const KUBERNETES_VERSION = "v1.34.4";
/** Its publication time, stamped as the build date (https://proxy.golang.org/k8s.io/kubernetes/@v/v1.34.4.info). */
export const KUBERNETES_RELEASE_DATE = "2026-02-10T12:53:36Z";
/** etcd is built from the wrapper module, at the version k8s.io/kubernetes v1.34.4 requires. */
export const ETCD_VERSION = "v3.6.4";
export const KWOK_VERSION = "v0.8.0";
export const HELM_VERSION = "v3.19.5";
/** Cluster DNS for real nodes; `go install github.com/coredns/coredns@v1.12.4` (its own module). */
export const COREDNS_VERSION = "v1.12.4";

/** Paths of the binaries the harness starts; all absolute. */
export interface K8sBinaries {
  readonly kubeApiserver: string;
  readonly kubeScheduler: string;
  readonly kubeControllerManager: string;
  readonly etcd: string;
  readonly kwok: string;
  readonly helm: string;
  /** kubectl from the cache when setup had to build it, otherwise the one on PATH. */
  readonly kubectl: string;
  /** Real nodes: the node agent and the Service proxy, from the same module as the control plane. */
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly coredns: string;
}

/** `$STRATA_CACHE_DIR`, or `~/.cache/strata` — the project's cache for slow builds. */
export function strataCacheDir(): string {
  return process.env.STRATA_CACHE_DIR ?? join(homedir(), ".cache", "strata");
}

export function kubernetesBinDir(): string {
  return join(strataCacheDir(), `k8s-${KUBERNETES_VERSION}`, "bin");
}

export function kwokBinDir(): string {
  return join(strataCacheDir(), `kwok-${KWOK_VERSION}`, "bin");
}

export function helmBinDir(): string {
  return join(strataCacheDir(), `helm-${HELM_VERSION}`, "bin");
}

export function corednsBinDir(): string {
  return join(strataCacheDir(), `coredns-${COREDNS_VERSION}`, "bin");
}

export function k8sBinaries(): K8sBinaries {
  const k8s = kubernetesBinDir();
  const cachedKubectl = join(k8s, "kubectl");
  return {
    kubeApiserver: join(k8s, "kube-apiserver"),
    kubeScheduler: join(k8s, "kube-scheduler"),
    kubeControllerManager: join(k8s, "kube-controller-manager"),
    etcd: join(k8s, "etcd"),
    kwok: join(kwokBinDir(), "kwok"),
    helm: join(helmBinDir(), "helm"),
    kubectl: existsSync(cachedKubectl) ? cachedKubectl : "kubectl",
    kubelet: join(k8s, "kubelet"),
    kubeProxy: join(k8s, "kube-proxy"),
    coredns: join(corednsBinDir(), "coredns"),
  };
}

/** Where setup puts promtool, extracted from Debian's `prometheus` package. */
export function promtoolBinDir(): string {
  return join(strataCacheDir(), "promtool-debian", "bin");
}

/** promtool from the cache when setup extracted it, otherwise the one on PATH. */
export function promtoolBinary(): string {
  const cached = join(promtoolBinDir(), "promtool");
  return existsSync(cached) ? cached : "promtool";
}
