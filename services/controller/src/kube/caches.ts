import {
  type Informer,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  type V1Node,
  type V1Pod,
  type V1Service,
} from "@kubernetes/client-node";
import {
  LABELS,
  MANAGED_BY_VALUE,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_VERSION,
  type ModelDeployment,
  STRATA_API_GROUP,
} from "@strata/core";
import type { KubeApi, RequestCounter } from "./api.js";

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export interface CacheEvents {
  /**
   * A ModelDeployment was created, deleted, or changed beyond its status:
   * enqueue its key, ahead of other work when `urgent` (created, or its spec changed).
   */
  deployment(key: string, urgent: boolean): void;
  /** An owned object (pod, Service) changed: enqueue its deployment. */
  owned(key: string): void;
  /** Capacity may have changed (a node, or a GPU freed): enqueue every deployment. */
  capacity(): void;
  /** A watch failed and could not be restarted. */
  fatal(err: unknown): void;
}

const WATCH_RESTART_DELAY_MS = 1000;
/** A watch that cannot be restarted for this long (the API server is gone, not restarting) is fatal. */
const WATCH_GIVE_UP_MS = 120_000;

/**
 * Informers for everything the controller reads: ModelDeployments, the pods
 * and Services it owns (by label), and nodes. Watch events only enqueue
 * keys; reconcile reads these caches.
 */
export class Caches {
  readonly deployments: Cached<ModelDeployment & KubernetesObject>;
  readonly pods: Cached<V1Pod>;
  readonly services: Cached<V1Service>;
  readonly nodes: Cached<V1Node>;
  private readonly nodeFingerprints = new Map<string, string>();
  private nodeChanges = 0;
  private readonly deploymentFingerprints = new Map<string, string>();
  /** When each failing watch first failed (ms since the epoch); cleared once a restart lists and watches again. */
  private readonly failingSince = new Map<string, number>();
  private readonly errors = new Map<string, number>();
  private stopped = false;

  constructor(api: KubeApi, namespace: string | undefined, count: RequestCounter) {
    const kc = api.kubeConfig;
    const ns = namespace ? `/namespaces/${namespace}` : "";
    const podSelector = LABELS.deployment;
    const svcSelector = `${LABELS.managedBy}=${MANAGED_BY_VALUE}`;
    this.deployments = makeInformer(
      kc,
      `/apis/${STRATA_API_GROUP}/${MODEL_DEPLOYMENT_VERSION}${ns}/${MODEL_DEPLOYMENT_PLURAL}`,
      () => {
        count("list", MODEL_DEPLOYMENT_PLURAL);
        const base = {
          group: STRATA_API_GROUP,
          version: MODEL_DEPLOYMENT_VERSION,
          plural: MODEL_DEPLOYMENT_PLURAL,
        };
        return namespace
          ? api.custom.listNamespacedCustomObject({ ...base, namespace })
          : api.custom.listClusterCustomObject(base);
      },
    );
    this.pods = makeInformer(
      kc,
      `/api/v1${ns}/pods`,
      () => {
        count("list", "pods");
        return namespace
          ? api.core.listNamespacedPod({ namespace, labelSelector: podSelector })
          : api.core.listPodForAllNamespaces({ labelSelector: podSelector });
      },
      podSelector,
    );
    this.services = makeInformer(
      kc,
      `/api/v1${ns}/services`,
      () => {
        count("list", "services");
        return namespace
          ? api.core.listNamespacedService({ namespace, labelSelector: svcSelector })
          : api.core.listServiceForAllNamespaces({ labelSelector: svcSelector });
      },
      svcSelector,
    );
    this.nodes = makeInformer(kc, "/api/v1/nodes", () => {
      count("list", "nodes");
      return api.core.listNode();
    });
  }

  /** Starts the informers and resolves when each has listed once. */
  async start(events: CacheEvents): Promise<void> {
    const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
    const ownerKey = (o: KubernetesObject) => {
      const deployment = o.metadata?.labels?.[LABELS.deployment];
      return deployment ? `${o.metadata?.namespace}/${deployment}` : undefined;
    };
    for (const verb of ["add", "update", "delete"] as const) {
      this.deployments.on(verb, (o) => this.onDeployment(verb, keyOf(o), o, events));
      this.pods.on(verb, (o) => {
        const key = ownerKey(o);
        if (key) events.owned(key);
        // A deleted or ended pod frees GPUs another deployment may be waiting for.
        if (verb === "delete" || o.status?.phase === "Failed" || o.status?.phase === "Succeeded")
          events.capacity();
      });
      this.services.on(verb, (o) => {
        const key = ownerKey(o);
        if (key) events.owned(key);
      });
      this.nodes.on(verb, (o) => this.onNode(verb, o, events));
    }
    const named: Array<[string, Cached<KubernetesObject>]> = [
      ["modeldeployments", this.deployments as unknown as Cached<KubernetesObject>],
      ["pods", this.pods as unknown as Cached<KubernetesObject>],
      ["services", this.services as unknown as Cached<KubernetesObject>],
      ["nodes", this.nodes as unknown as Cached<KubernetesObject>],
    ];
    for (const [name, informer] of named) {
      informer.on("error", (err) => {
        this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
        this.restart(name, informer, err, events);
      });
    }
    await Promise.all(named.map(([, informer]) => informer.start()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.deployments.stop(), this.pods.stop(), this.services.stop(), this.nodes.stop()]);
  }

  getDeployment(namespace: string, name: string): ModelDeployment | undefined {
    return this.deployments.get(name, namespace);
  }

  podsOf(namespace: string, deployment: string): V1Pod[] {
    return this.pods.list(namespace).filter((p) => p.metadata?.labels?.[LABELS.deployment] === deployment);
  }

  servicesOf(namespace: string, deployment: string): V1Service[] {
    return this.services
      .list(namespace)
      .filter((s) => s.metadata?.labels?.[LABELS.deployment] === deployment);
  }

  /** Counts changes to the nodes that affect placement: equal counts, equal placement inputs. */
  get nodesVersion(): number {
    return this.nodeChanges;
  }

  deploymentKeys(): string[] {
    return this.deployments.list().map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
  }

  /**
   * A status write (most of them this controller's own) enqueues nothing: a
   * reconcile reads the spec, its pods and nodes, and what the workers report,
   * each with its own events, and its status writer remembers what it wrote.
   */
  private onDeployment(verb: string, key: string, md: ModelDeployment, events: CacheEvents): void {
    if (verb === "delete") {
      this.deploymentFingerprints.delete(key);
      events.deployment(key, false);
      return;
    }
    const { uid, generation, deletionTimestamp } = md.metadata;
    const fingerprint = JSON.stringify([uid, generation, deletionTimestamp]);
    if (this.deploymentFingerprints.get(key) === fingerprint) return;
    this.deploymentFingerprints.set(key, fingerprint);
    events.deployment(key, true);
  }

  // Node status is rewritten by every heartbeat; only a change that affects placement enqueues work.
  private onNode(verb: string, node: V1Node, events: CacheEvents): void {
    const name = node.metadata?.name ?? "";
    if (verb === "delete") {
      this.nodeFingerprints.delete(name);
      this.nodeChanges++;
      events.capacity();
      return;
    }
    const ready = (node.status?.conditions ?? []).find((c) => c.type === "Ready")?.status;
    const fingerprint = JSON.stringify([
      node.metadata?.labels,
      node.spec?.taints,
      node.spec?.unschedulable,
      node.status?.allocatable,
      ready,
    ]);
    if (this.nodeFingerprints.get(name) === fingerprint) return;
    this.nodeFingerprints.set(name, fingerprint);
    this.nodeChanges++;
    events.capacity();
  }

  private restart(name: string, informer: Cached<KubernetesObject>, err: unknown, events: CacheEvents): void {
    if (this.stopped) return;
    const since = this.failingSince.get(name) ?? Date.now();
    this.failingSince.set(name, since);
    if (Date.now() - since > WATCH_GIVE_UP_MS) {
      events.fatal(
        new Error(`watch of ${name} could not be restarted for ${Math.round(WATCH_GIVE_UP_MS / 1000)} s`, {
          cause: err,
        }),
      );
      return;
    }
    setTimeout(() => {
      if (this.stopped) return;
      const errorsBefore = this.errors.get(name) ?? 0;
      informer
        .start()
        .then(() => {
          // start() reports a failed list or watch through the error event, not by rejecting.
          if ((this.errors.get(name) ?? 0) === errorsBefore) this.failingSince.delete(name);
        })
        .catch((e: unknown) => this.restart(name, informer, e, events));
    }, WATCH_RESTART_DELAY_MS).unref();
  }
}
