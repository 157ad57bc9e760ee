import type { V1Pod } from "@kubernetes/client-node";
import { LABELS } from "@strata/core";

/**
 * Pods this controller created that its informer has not delivered yet (the
 * "expectations" of client-go's controllers). A reconcile counts them as
 * present, so a pass that runs before the watch catches up neither creates
 * them again nor admits their GPUs to another group. An entry ends when the
 * cache shows its pod, when its create failed, or after a TTL (a watch that
 * lags that long, or a pod deleted before it was ever seen).
 */
export class PendingCreates {
  /** By deployment ("namespace/name"), then pod ("namespace/name"). */
  readonly #byDeployment = new Map<string, Map<string, { pod: V1Pod; atMs: number }>>();

  constructor(private readonly ttlMs: number) {}

  /** Records pods about to be created, stamped with their creation time for the gang timeout. */
  add(pods: readonly V1Pod[], atMs: number): void {
    for (const pod of pods) {
      const deployment = deploymentKey(pod);
      const entries = this.#byDeployment.get(deployment) ?? new Map();
      this.#byDeployment.set(deployment, entries);
      const stamped: V1Pod = { ...pod, metadata: { ...pod.metadata, creationTimestamp: new Date(atMs) } };
      entries.set(podKey(pod), { pod: stamped, atMs });
    }
  }

  /** A create that failed (not AlreadyExists): the pod will not appear. */
  drop(pod: V1Pod): void {
    const entries = this.#byDeployment.get(deploymentKey(pod));
    entries?.delete(podKey(pod));
    if (entries?.size === 0) this.#byDeployment.delete(deploymentKey(pod));
  }

  /** One deployment's cached pods plus its pending ones the cache does not show yet. */
  withPending(namespace: string, deployment: string, cached: readonly V1Pod[], nowMs: number): V1Pod[] {
    const key = `${namespace}/${deployment}`;
    const entries = this.#byDeployment.get(key);
    if (!entries) return [...cached];
    const seen = new Set(cached.map(podKey));
    const out = [...cached];
    for (const [k, entry] of entries) {
      if (seen.has(k) || nowMs - entry.atMs > this.ttlMs) entries.delete(k);
      else out.push(entry.pod);
    }
    if (entries.size === 0) this.#byDeployment.delete(key);
    return out;
  }

  /** Every pending pod the cache does not show yet, for capacity: `cached` is the whole pod cache. */
  all(isCached: (podKey: string) => boolean, nowMs: number): V1Pod[] {
    const out: V1Pod[] = [];
    for (const [deployment, entries] of this.#byDeployment) {
      for (const [k, entry] of entries) {
        if (isCached(k) || nowMs - entry.atMs > this.ttlMs) entries.delete(k);
        else out.push(entry.pod);
      }
      if (entries.size === 0) this.#byDeployment.delete(deployment);
    }
    return out;
  }
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

function deploymentKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.labels?.[LABELS.deployment]}`;
}
