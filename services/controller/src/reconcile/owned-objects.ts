import { randomBytes } from "node:crypto";
import {
  LABELS,
  MANAGED_BY_VALUE,
  type ModelDeployment,
  type PlanStatus,
  TUNNEL_TLS,
  TUNNEL_TOKEN_SECRET_KEY,
} from "@strata/core";
import { groupLabels, headlessService, headService, ownerReference } from "../groups/desired.js";
import { podGroupName, tunnelSecretName } from "../groups/names.js";
import type { KubeApi } from "../kube/api.js";
import type { Caches } from "../kube/caches.js";
import { makeTunnelTls } from "./tunnel-tls.js";

/**
 * The objects a deployment owns besides its pods: the tunnel Secret (bearer
 * token, and the CA and certificate its stages serve the tunnel with),
 * the Services of each group, and PodGroups when the scheduler-plugins API
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
   * The tunnel Secret: a bearer token and the TLS material of the deployment's
   * tunnels. A Secret from before TLS (token only) gets the TLS keys added and
   * keeps its token.
   */
  async ensureTunnelSecret(md: ModelDeployment): Promise<void> {
    if (this.secretsEnsured.has(md.metadata.uid)) return;
    const { namespace, name } = md.metadata;
    const secretName = tunnelSecretName(name);
    const existing = await this.api.readSecret(namespace, secretName);
    const tlsKeys = [TUNNEL_TLS.caFile, TUNNEL_TLS.certFile, TUNNEL_TLS.keyFile];
    if (!existing || tlsKeys.some((key) => !existing.data?.[key])) {
      const tls = await makeTunnelTls(name, namespace);
      const stringData = {
        [TUNNEL_TLS.caFile]: tls.caCert,
        [TUNNEL_TLS.certFile]: tls.cert,
        [TUNNEL_TLS.keyFile]: tls.key,
      };
      if (existing) {
        await this.api.replaceSecret({ ...existing, stringData });
      } else {
        await this.api.createSecret({
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            name: secretName,
            namespace,
            labels: { [LABELS.deployment]: name, [LABELS.managedBy]: MANAGED_BY_VALUE },
            ownerReferences: [ownerReference(md)],
          },
          type: "Opaque",
          stringData: { [TUNNEL_TOKEN_SECRET_KEY]: randomBytes(32).toString("base64url"), ...stringData },
        });
      }
    }
    this.secretsEnsured.add(md.metadata.uid);
  }

  /** A headless Service per group and a Service per replica head; none past the desired count. */
  async ensureServices(md: ModelDeployment, desiredGroups: number): Promise<void> {
    const { namespace, name } = md.metadata;
    const existing = new Set(this.caches.servicesOf(namespace, name).map((s) => s.metadata?.name ?? ""));
    const wanted = new Set<string>();
    const creates: Promise<void>[] = [];
    for (let replica = 0; replica < desiredGroups; replica++) {
      for (const svc of [headlessService(md, replica), headService(md, replica)]) {
        const svcName = svc.metadata?.name ?? "";
        wanted.add(svcName);
        if (!existing.has(svcName)) creates.push(this.api.createService(svc));
      }
    }
    const deletes = [...existing]
      .filter((svcName) => !wanted.has(svcName) && isGroupService(name, svcName))
      .map((svcName) => this.api.deleteService(namespace, svcName));
    await Promise.all([...creates, ...deletes]);
  }
}

function isGroupService(deployment: string, svcName: string): boolean {
  const rest = svcName.slice(deployment.length + 1);
  return svcName.startsWith(`${deployment}-`) && /^\d+(-head)?$/.test(rest);
}
