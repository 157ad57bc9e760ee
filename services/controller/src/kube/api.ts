import {
  ApiException,
  type Configuration,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  type KubeConfig,
  type V1Lease,
  type V1Pod,
  type V1Secret,
  type V1Service,
} from "@kubernetes/client-node";
import {
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_VERSION,
  type ModelDeployment,
  type ModelDeploymentStatus,
  STRATA_API_GROUP,
} from "@strata/core";
import { keepAliveConfiguration } from "./keep-alive.js";

/** Counts every request the controller makes, for metrics and the scale benchmark. */
export type RequestCounter = (verb: string, resource: string) => void;

export const POD_GROUP_API = {
  group: "scheduling.x-k8s.io",
  version: "v1alpha1",
  plural: "podgroups",
} as const;

export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code =
    (err as { code?: unknown; statusCode?: unknown })?.code ?? (err as { statusCode?: unknown })?.statusCode;
  return typeof code === "number" ? code : undefined;
}
export const isNotFound = (err: unknown) => httpStatus(err) === 404;
export const isConflict = (err: unknown) => httpStatus(err) === 409;

/**
 * The writes and direct reads the controller makes, in one place. Reads of
 * ModelDeployments, pods, Services and nodes come from informer caches.
 */
export class KubeApi {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
  private readonly configuration: Configuration;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly count: RequestCounter,
  ) {
    this.configuration = keepAliveConfiguration(kubeConfig);
    this.core = new CoreV1Api(this.configuration);
    this.custom = new CustomObjectsApi(this.configuration);
    this.coordination = new CoordinationV1Api(this.configuration);
  }

  /** Creates a pod; AlreadyExists counts as success (a repeated reconcile). */
  async createPod(pod: V1Pod): Promise<void> {
    this.count("create", "pods");
    await this.createCore("pods", pod);
  }

  /**
   * Deletes a pod only if it is still the one we saw (uid precondition); gone
   * counts as success. `force` skips the grace period, for a pod whose node
   * cannot confirm that its containers stopped (the node is NotReady).
   */
  async deletePod(pod: V1Pod, force = false): Promise<void> {
    this.count("delete", "pods");
    try {
      await this.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? "",
        namespace: pod.metadata?.namespace ?? "",
        body: {
          preconditions: { uid: pod.metadata?.uid },
          propagationPolicy: "Background",
          ...(force ? { gracePeriodSeconds: 0 } : {}),
        },
      });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  async createService(svc: V1Service): Promise<void> {
    this.count("create", "services");
    await this.createCore("services", svc);
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    this.count("delete", "services");
    try {
      await this.core.deleteNamespacedService({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    this.count("get", "secrets");
    try {
      return await this.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createSecret(secret: V1Secret): Promise<void> {
    this.count("create", "secrets");
    await this.createCore("secrets", secret);
  }

  /** Replaces a Secret read earlier; a 409 (it changed meanwhile) propagates so the key is requeued. */
  async replaceSecret(secret: V1Secret): Promise<void> {
    this.count("update", "secrets");
    await this.core.replaceNamespacedSecret({
      name: secret.metadata?.name ?? "",
      namespace: secret.metadata?.namespace ?? "",
      body: secret,
    });
  }

  /** Replaces the status subresource; a 409 (stale resourceVersion) propagates so the key is requeued. */
  /** Writes the status subresource; the API server's answer is the object as stored. */
  async replaceStatus(md: ModelDeployment, status: ModelDeploymentStatus): Promise<ModelDeployment> {
    this.count("update", "modeldeployments/status");
    return await this.custom.replaceNamespacedCustomObjectStatus({
      group: STRATA_API_GROUP,
      version: MODEL_DEPLOYMENT_VERSION,
      plural: MODEL_DEPLOYMENT_PLURAL,
      namespace: md.metadata.namespace,
      name: md.metadata.name,
      body: { ...md, status },
    });
  }

  async createEvent(namespace: string, body: object): Promise<void> {
    this.count("create", "events");
    await this.core.createNamespacedEvent({ namespace, body: body as never });
  }

  async podGroupApiExists(): Promise<boolean> {
    this.count("get", "discovery");
    try {
      await this.custom.listClusterCustomObject({ ...POD_GROUP_API, limit: 1 });
      return true;
    } catch (err) {
      const code = httpStatus(err);
      if (code === 404) return false;
      // 403: the API exists but this role may not list it cluster-wide; namespaced creates may still work.
      if (code === 403) return true;
      throw err;
    }
  }

  async createPodGroup(namespace: string, body: object): Promise<void> {
    this.count("create", "podgroups");
    try {
      await this.custom.createNamespacedCustomObject({ ...POD_GROUP_API, namespace, body });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  async readLease(namespace: string, name: string): Promise<V1Lease | undefined> {
    this.count("get", "leases");
    try {
      return await this.coordination.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createLease(lease: V1Lease): Promise<V1Lease> {
    this.count("create", "leases");
    return await this.coordination.createNamespacedLease({
      namespace: lease.metadata?.namespace ?? "",
      body: lease,
    });
  }

  async replaceLease(lease: V1Lease): Promise<V1Lease> {
    this.count("update", "leases");
    return await this.coordination.replaceNamespacedLease({
      name: lease.metadata?.name ?? "",
      namespace: lease.metadata?.namespace ?? "",
      body: lease,
    });
  }

  /**
   * Creates a core object; AlreadyExists counts as success (a repeated reconcile).
   * The body goes out as plain JSON and the answer is not read back: the
   * generated client's typed serializer walks every field of a pod both ways,
   * which at hundreds of pods a second was a fifth of the controller's CPU.
   * (Our objects use the API's own field names and hold no dates, so plain
   * JSON is what the serializer would send.)
   */
  private async createCore(plural: "pods" | "services" | "secrets", obj: V1Pod | V1Service | V1Secret) {
    const namespace = encodeURIComponent(obj.metadata?.namespace ?? "");
    const { baseServer, authMethods, httpApi } = this.configuration;
    const request = baseServer.makeRequestContext(
      `/api/v1/namespaces/${namespace}/${plural}`,
      HttpMethod.POST,
    );
    request.setHeaderParam("Accept", "application/json");
    request.setHeaderParam("Content-Type", "application/json");
    request.setBody(JSON.stringify(obj));
    await authMethods.default?.applySecurityAuthentication(request);
    const response = await httpApi.send(request).toPromise();
    const text = await response.body.text();
    const code = response.httpStatusCode;
    if ((code >= 200 && code < 300) || code === 409) return;
    throw new ApiException(code, `creating ${plural}/${obj.metadata?.name}: HTTP ${code}`, text, {});
  }
}
