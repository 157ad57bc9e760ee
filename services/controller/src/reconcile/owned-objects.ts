import { randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import {
  LABELS,
  MANAGED_BY_VALUE,
  type ModelDeployment,
  type PlanStatus,
  TUNNEL_TLS,
  TUNNEL_TOKEN_SECRET_KEY,
} from "@strata/core";
import { groupLabels, headlessService, ownerReference } from "../groups/desired.js";
import { podGroupName, tunnelSecretName } from "../groups/names.js";
import type { KubeApi } from "../kube/api.js";
import type { Caches } from "../kube/caches.js";
import { makeTunnelTls } from "./tunnel-tls.js";

/**
 * The objects a deployment owns besides its pods: the tunnel Secret (bearer
 * token, and the CA and certificate its stages serve the tunnel with),
 * the deployment's headless Service, and PodGroups when the scheduler-plugins API
 * exists. Each `ensure` creates what is missing and is safe to repeat.
 */
export class OwnedObjects {
  private readonly secretsEnsured = new Set<string>();

  constructor(
    private readonly api: KubeApi,
    private readonly caches: Caches,
    private readonly gangTimeoutMs: number,
  ) {}

  async ensurePodGroup(md: ModelDeployment, plan: PlanStatus, replica: number): Promise<void> {
    await this.api.createPodGroup(md.metadata.namespace, {
      apiVersion: "scheduling.x-k8s.io/v1alpha1",
      kind: "PodGroup",
      metadata: {
        name: podGroupName(md.metadata.name, replica),
        namespace: md.metadata.namespace,
        labels: groupLabels(md, replica),
        ownerReferences: [ownerReference(md)],
      },
      spec: {
        minMember: plan.pp,
        scheduleTimeoutSeconds: Math.ceil(this.gangTimeoutMs / 1000),
      },
    });
  }

  /**
   * The tunnel Secret: a bearer token, and with `tls` the TLS material of the
   * deployment's tunnels (vLLM groups check only the token, and a CA and
   * certificate cost the controller tens of milliseconds of CPU). A Secret
   * without TLS keys gets them added, keeping its token, once a tunnel needs them.
   */
  async ensureTunnelSecret(md: ModelDeployment, tls: boolean): Promise<void> {
    const ensured = `${md.metadata.uid}/${tls}`;
    if (this.secretsEnsured.has(ensured)) return;
    if (!tls) {
      // Every tunnel Secret holds a token: one that exists already (AlreadyExists) is kept as it is.
      await this.api.createSecret(tunnelSecret(md, {}));
    } else {
      const { namespace, name } = md.metadata;
      const existing = await this.api.readSecret(namespace, tunnelSecretName(name));
      const tlsKeys = [TUNNEL_TLS.caFile, TUNNEL_TLS.certFile, TUNNEL_TLS.keyFile];
      if (!existing || tlsKeys.some((key) => !existing.data?.[key])) {
        const material = await makeTunnelTls(name, namespace);
        const stringData = {
          [TUNNEL_TLS.caFile]: material.caCert,
          [TUNNEL_TLS.certFile]: material.cert,
          [TUNNEL_TLS.keyFile]: material.key,
        };
        if (existing) await this.api.replaceSecret({ ...existing, stringData });
        else await this.api.createSecret(tunnelSecret(md, stringData));
      }
    }
    this.secretsEnsured.add(ensured);
  }

  /**
   * The deployment's headless Service, and no other: a group Service of an
   * earlier Strata (`<md>-<replica>`, and its head Service
   * `<md>-<replica>-head`) is left while a pod still names it as its
   * subdomain, so that group keeps its stage DNS until it is replaced.
   */
  async ensureServices(md: ModelDeployment): Promise<void> {
    const { namespace, name } = md.metadata;
    const wanted = headlessService(md);
    const existing = this.caches.servicesOf(namespace, name).map((s) => s.metadata?.name ?? "");
    const subdomains = this.caches.podsOf(namespace, name).map((p) => p.spec?.subdomain);
    const creates = existing.includes(wanted.metadata?.name ?? "") ? [] : [this.api.createService(wanted)];
    const deletes = staleServices(name, existing, subdomains).map((svc) =>
      this.api.deleteService(namespace, svc),
    );
    await Promise.all([...creates, ...deletes]);
  }
}

/**
 * Which of a deployment's Services go: the group Services of an earlier
 * Strata (`<md>-<replica>`, `<md>-<replica>-head`) once no pod names
 * `<md>-<replica>` as its subdomain. The deployment's own Service stays.
 */
export function staleServices(
  deployment: string,
  services: readonly string[],
  podSubdomains: ReadonlyArray<string | undefined>,
): string[] {
  const inUse = new Set(podSubdomains);
  return services.filter((svc) => {
    if (!svc.startsWith(`${deployment}-`)) return false;
    const match = /^(\d+)(-head)?$/.exec(svc.slice(deployment.length + 1));
    return match !== null && !inUse.has(`${deployment}-${match[1]}`);
  });
}

/** A new tunnel Secret: a fresh bearer token, and whatever else is given (the TLS files). */
function tunnelSecret(md: ModelDeployment, stringData: Record<string, string>): V1Secret {
  const { namespace, name } = md.metadata;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: tunnelSecretName(name),
      namespace,
      labels: { [LABELS.deployment]: name, [LABELS.managedBy]: MANAGED_BY_VALUE },
      ownerReferences: [ownerReference(md)],
    },
    type: "Opaque",
    stringData: { [TUNNEL_TOKEN_SECRET_KEY]: randomBytes(32).toString("base64url"), ...stringData },
  };
}
