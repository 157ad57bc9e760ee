import { CoreV1Api, type KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { renderKubeconfig } from "./kubeconfig.js";

export interface ServiceAccountKubeconfigOptions {
  readonly namespace: string;
  readonly name: string;
  /** An existing ClusterRole, bound cluster-wide to the ServiceAccount. */
  readonly clusterRoleName: string;
  /** Token lifetime; default one day. */
  readonly expirationSeconds?: number;
}

const DEFAULT_TOKEN_SECONDS = 24 * 60 * 60;

/**
 * Creates (or reuses) the ServiceAccount, binds it to the ClusterRole with a
 * ClusterRoleBinding named `<namespace>-<name>-<clusterRoleName>`, and returns a
 * kubeconfig (YAML) that authenticates with a TokenRequest token for it — so a
 * component under test runs with its production permissions, not as admin.
 */
export async function serviceAccountKubeconfig(
  kc: KubeConfig,
  opts: ServiceAccountKubeconfigOptions,
): Promise<string> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null || cluster.caData === undefined) {
    throw new Error("serviceAccountKubeconfig: the admin kubeconfig has no current cluster with CA data");
  }
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await ignoreConflict(
    core.createNamespacedServiceAccount({
      namespace: opts.namespace,
      body: { metadata: { name: opts.name } },
    }),
  );
  await ignoreConflict(
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `${opts.namespace}-${opts.name}-${opts.clusterRoleName}` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: opts.clusterRoleName },
        subjects: [{ kind: "ServiceAccount", name: opts.name, namespace: opts.namespace }],
      },
    }),
  );
  const request = await core.createNamespacedServiceAccountToken({
    namespace: opts.namespace,
    name: opts.name,
    body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? DEFAULT_TOKEN_SECONDS } },
  });
  const token = request.status?.token;
  if (token === undefined)
    throw new Error(`TokenRequest for ${opts.namespace}/${opts.name} returned no token`);
  return renderKubeconfig({
    server: cluster.server,
    caCertPem: Buffer.from(cluster.caData, "base64").toString("utf8"),
    token,
    user: `system:serviceaccount:${opts.namespace}:${opts.name}`,
    namespace: opts.namespace,
  });
}

/** 409 AlreadyExists: the object is there from an earlier call, which is what we want. */
async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err: unknown) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}
