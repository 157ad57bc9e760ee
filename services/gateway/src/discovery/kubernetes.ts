import {
  CustomObjectsApi,
  DiscoveryV1Api,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  type V1EndpointSlice,
} from "@kubernetes/client-node";
import {
  LABELS,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_VERSION,
  STRATA_API_GROUP,
  WORKER_PORTS,
} from "@strata/core";
import type { ReplicaEndpoint, ReplicaSink, ReplicaSource } from "../replicas.js";
import { replicaKey } from "./nats.js";

interface ModelDeploymentObject extends KubernetesObject {
  spec?: { model?: { servedName?: string } };
}

/**
 * A failed watch is restarted every WATCH_RESTART_DELAY_MS; the source gives up
 * (and the process ends, to be restarted) only after the API server stayed
 * unreachable for WATCH_GIVE_UP_MS, e.g. not during an API server restart.
 */
const WATCH_RESTART_DELAY_MS = 1_000;
const WATCH_GIVE_UP_MS = 120_000;

/**
 * Label selector for the EndpointSlices of the deployments' headless Services
 * (slices inherit Service labels), and of the group Services an earlier
 * Strata made (one per group, with a replica label). Head Services of an
 * earlier Strata carry the role label and are left out: their group's
 * Service lists the same head.
 */
export const groupSliceSelector = `${LABELS.deployment},!${LABELS.role}`;

/**
 * Reduces the informer caches to the heads that can serve now: per
 * deployment, the endpoint of each group's head pod (`<md>-<replica>-0`)
 * while it is serving (its pod Ready) and not terminating, named by the
 * ModelDeployment's `spec.model.servedName` (the deployment name until that
 * object is seen). The Services publish addresses before pods are ready, so
 * an endpoint's `ready` condition is always true; `serving` is the pod's
 * readiness. A head listed twice (a group Service of an earlier Strata next
 * to the deployment's Service) counts once.
 */
export function headsFromSlices(
  slices: readonly V1EndpointSlice[],
  servedNames: ReadonlyMap<string, string>,
): ReplicaEndpoint[] {
  const heads = new Map<string, ReplicaEndpoint>();
  for (const slice of slices) {
    const deployment = slice.metadata?.labels?.[LABELS.deployment];
    if (!deployment) continue;
    const namespace = slice.metadata?.namespace ?? "default";
    // Services of an earlier Strata have only the tunnel port; every worker serves http on WORKER_PORTS.http.
    const port = slice.ports?.find((p) => p.name === "http")?.port ?? WORKER_PORTS.http;
    // The API sends `endpoints: null` for a Service with no endpoints, whatever the typings say.
    for (const e of (slice.endpoints as V1EndpointSlice["endpoints"] | null) ?? []) {
      const replica = headReplica(deployment, e.targetRef?.name ?? e.hostname);
      const address = e.addresses?.[0];
      const serving =
        (e.conditions?.serving ?? e.conditions?.ready) !== false && e.conditions?.terminating !== true;
      if (replica === undefined || address === undefined || !serving) continue;
      const id = replicaKey(deployment, replica);
      if (heads.has(id)) continue;
      heads.set(id, {
        id,
        model: servedNames.get(`${namespace}/${deployment}`) ?? deployment,
        url: `http://${slice.addressType === "IPv6" ? `[${address}]` : address}:${port}`,
      });
    }
  }
  return [...heads.values()];
}

/** The replica whose head (stage 0) pod this is: `<deployment>-<replica>-0`, else undefined. */
function headReplica(deployment: string, pod: string | undefined): number | undefined {
  if (!pod?.startsWith(`${deployment}-`)) return undefined;
  const match = /^(\d+)-0$/.exec(pod.slice(deployment.length + 1));
  return match ? Number(match[1]) : undefined;
}

/**
 * Replica heads from the Kubernetes API: informers on head EndpointSlices and
 * on ModelDeployments in one namespace. Every watch event recomputes the full
 * set from the caches and applies the difference, so missed or repeated
 * events cannot leave a stale head behind.
 */
export class KubernetesReplicaSource implements ReplicaSource {
  readonly name = "kubernetes";
  private readonly kc: KubeConfig;
  private readonly namespace: string;
  private slices: (Informer<V1EndpointSlice> & ObjectCache<V1EndpointSlice>) | undefined;
  private deployments: (Informer<ModelDeploymentObject> & ObjectCache<ModelDeploymentObject>) | undefined;
  private pushed = new Map<string, ReplicaEndpoint>();
  private stopped = false;
  /** When each failing watch first failed; cleared once a restart lists and watches again. */
  private readonly failingSince = new Map<Informer<KubernetesObject>, number>();
  private readonly errors = new Map<Informer<KubernetesObject>, number>();
  private readonly onFatal: (err: unknown) => void;

  /** `onFatal` is called when a watch cannot recover; the process should end. */
  constructor(kc: KubeConfig, namespace: string, onFatal: (err: unknown) => void) {
    this.kc = kc;
    this.namespace = namespace;
    this.onFatal = onFatal;
  }

  async start(sink: ReplicaSink): Promise<void> {
    const discovery = this.kc.makeApiClient(DiscoveryV1Api);
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    const ns = this.namespace;
    this.slices = makeInformer(
      this.kc,
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      () => discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: groupSliceSelector }),
      groupSliceSelector,
    );
    this.deployments = makeInformer(
      this.kc,
      `/apis/${STRATA_API_GROUP}/${MODEL_DEPLOYMENT_VERSION}/namespaces/${ns}/${MODEL_DEPLOYMENT_PLURAL}`,
      () =>
        custom.listNamespacedCustomObject({
          group: STRATA_API_GROUP,
          version: MODEL_DEPLOYMENT_VERSION,
          namespace: ns,
          plural: MODEL_DEPLOYMENT_PLURAL,
        }) as never,
    );
    const sync = () => this.sync(sink);
    for (const informer of [this.slices, this.deployments] as Informer<KubernetesObject>[]) {
      informer.on("add", sync);
      informer.on("update", sync);
      informer.on("delete", sync);
      // The client does not restart a failed watch by itself: restart it until the API server
      // answers again, or give up after WATCH_GIVE_UP_MS.
      informer.on("error", (err: unknown) => {
        this.errors.set(informer, (this.errors.get(informer) ?? 0) + 1);
        this.restart(informer, err);
      });
    }
    await this.deployments.start();
    await this.slices.start();
    this.sync(sink);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.slices?.stop();
    await this.deployments?.stop();
  }

  private restart(informer: Informer<KubernetesObject>, err: unknown): void {
    if (this.stopped) return;
    const since = this.failingSince.get(informer) ?? Date.now();
    this.failingSince.set(informer, since);
    if (Date.now() - since > WATCH_GIVE_UP_MS) {
      this.onFatal(err);
      return;
    }
    setTimeout(() => {
      if (this.stopped) return;
      const errorsBefore = this.errors.get(informer) ?? 0;
      informer
        .start()
        .then(() => {
          // start() reports a failed list or watch through the error event, not by rejecting.
          if ((this.errors.get(informer) ?? 0) === errorsBefore) this.failingSince.delete(informer);
        })
        .catch((e: unknown) => this.restart(informer, e));
    }, WATCH_RESTART_DELAY_MS).unref();
  }

  private sync(sink: ReplicaSink): void {
    if (!this.slices || !this.deployments) return;
    const names = new Map<string, string>();
    for (const md of this.deployments.list()) {
      const served = md.spec?.model?.servedName;
      if (served && md.metadata?.name)
        names.set(`${md.metadata.namespace ?? this.namespace}/${md.metadata.name}`, served);
    }
    const next = new Map(headsFromSlices(this.slices.list(), names).map((e) => [e.id, e]));
    for (const id of this.pushed.keys()) if (!next.has(id)) sink.remove(id);
    for (const e of next.values()) sink.upsert(e);
    this.pushed = next;
  }
}
