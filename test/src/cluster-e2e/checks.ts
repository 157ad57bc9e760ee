import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:tls";
import {
  ApisApi,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import {
  LABELS,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_DEPLOYMENT_VERSION,
  STRATA_API_GROUP,
  TUNNEL_TLS,
  WORKER_ENV,
  WORKER_PORTS,
} from "@strata/core";

/** A requirement of the end-to-end run that does not hold; `message` is one line. */
export class RequirementError extends Error {
  override readonly name = "RequirementError";
}

export function requireThat(ok: boolean, what: string): void {
  if (!ok) throw new RequirementError(what);
}

/** Names of this machine's processes inside a pod's cgroup (the kubelet's cgroupfs layout names it pod<uid>). */
export function podProcesses(podUid: string): string[] {
  const marks = [`pod${podUid}`, `pod${podUid.replaceAll("-", "_")}`];
  const names: string[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      if (marks.some((m) => cgroup.includes(m))) names.push(readFileSync(`/proc/${pid}/comm`, "utf8").trim());
    } catch {
      // The process ended while we looked.
    }
  }
  return names;
}

/**
 * The stage's tunnel port speaks TLS with a certificate the deployment's CA
 * (from the controller's Secret) signed for the tunnel's one server name.
 */
export async function tunnelServesTls(
  kc: KubeConfig,
  namespace: string,
  secretName: string,
  stagePod: V1Pod,
): Promise<{ protocol: string; subject: string }> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name: secretName });
  for (const key of [TUNNEL_TLS.caFile, TUNNEL_TLS.certFile, TUNNEL_TLS.keyFile]) {
    requireThat(secret.data?.[key] !== undefined, `Secret ${secretName} has no ${key}`);
  }
  const env = stagePod.spec?.containers[0]?.env ?? [];
  requireThat(
    env.some((e) => e.name === WORKER_ENV.tunnelTlsDir && e.value === TUNNEL_TLS.mountPath),
    `pod ${stagePod.metadata?.name} lacks ${WORKER_ENV.tunnelTlsDir}=${TUNNEL_TLS.mountPath}`,
  );
  const ca = Buffer.from(secret.data?.[TUNNEL_TLS.caFile] ?? "", "base64");
  return await new Promise((resolve, reject) => {
    const socket = connect({
      host: stagePod.status?.podIP ?? "",
      port: WORKER_PORTS.tunnel,
      servername: TUNNEL_TLS.serverName,
      ca,
      ALPNProtocols: ["h2"],
      timeout: 10_000,
    });
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const result = {
        protocol: `${socket.getProtocol() ?? "?"} ${socket.alpnProtocol || "no ALPN"}`,
        subject: String(cert.subject?.CN ?? JSON.stringify(cert.subject)),
      };
      socket.end();
      if (socket.authorized) resolve(result);
      else reject(new RequirementError(`tunnel certificate not trusted: ${socket.authorizationError}`));
    });
    socket.once("timeout", () => socket.destroy(new Error("TLS handshake timed out")));
    socket.once("error", reject);
  });
}

/** The Lease's holder, which must be one of the controller pods. */
export async function leaseHolder(kc: KubeConfig, namespace: string, lease: string): Promise<string> {
  const l = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: lease });
  return l.spec?.holderIdentity ?? "";
}

/** What is left of Strata after `helm uninstall` and deleting the ModelDeployments. */
export async function leftovers(kc: KubeConfig, namespace: string): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const left: string[] = [];
  const strata = LABELS.deployment;
  for (const pod of (await core.listNamespacedPod({ namespace })).items)
    left.push(`pod ${pod.metadata?.name}`);
  for (const svc of (await core.listNamespacedService({ namespace })).items)
    left.push(`service ${svc.metadata?.name}`);
  for (const secret of (await core.listNamespacedSecret({ namespace })).items)
    left.push(`secret ${secret.metadata?.name}`);
  // Anything the controller made for a deployment, in any namespace.
  const lists = [
    ["pod", await core.listPodForAllNamespaces({ labelSelector: strata })],
    ["service", await core.listServiceForAllNamespaces({ labelSelector: strata })],
    ["secret", await core.listSecretForAllNamespaces({ labelSelector: strata })],
  ] as const;
  for (const [kind, list] of lists) {
    for (const o of list.items) left.push(`${kind} ${o.metadata?.namespace}/${o.metadata?.name}`);
  }
  const custom = kc.makeApiClient(CustomObjectsApi);
  const mds = (await custom.listClusterCustomObject({
    group: STRATA_API_GROUP,
    version: MODEL_DEPLOYMENT_VERSION,
    plural: MODEL_DEPLOYMENT_PLURAL,
  })) as { items: { metadata: { namespace: string; name: string } }[] };
  for (const md of mds.items) left.push(`modeldeployment ${md.metadata.namespace}/${md.metadata.name}`);
  if (await hasPodGroupApi(kc)) {
    const groups = (await custom.listClusterCustomObject({
      group: "scheduling.x-k8s.io",
      version: "v1alpha1",
      plural: "podgroups",
    })) as { items: { metadata: { namespace: string; name: string } }[] };
    for (const g of groups.items) left.push(`podgroup ${g.metadata.namespace}/${g.metadata.name}`);
  }
  return left;
}

/** Whether the scheduler-plugins PodGroup API is served (the controller makes PodGroups only then). */
export async function hasPodGroupApi(kc: KubeConfig): Promise<boolean> {
  const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
  return groups.groups.some((g) => g.name === "scheduling.x-k8s.io");
}
