import { stringify } from "yaml";

/** What a kubeconfig for one user of the test cluster needs. */
export interface KubeconfigParams {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  readonly caCertPem: string;
  readonly token: string;
  readonly user: string;
  /** Default namespace of the context. */
  readonly namespace?: string;
}

export const CLUSTER_NAME = "strata-test";

/** A kubeconfig (YAML) with a single context that authenticates with a bearer token. */
export function renderKubeconfig(p: KubeconfigParams): string {
  const context = `${p.user}@${CLUSTER_NAME}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: CLUSTER_NAME,
        cluster: {
          server: p.server,
          "certificate-authority-data": Buffer.from(p.caCertPem).toString("base64"),
        },
      },
    ],
    users: [{ name: p.user, user: { token: p.token } }],
    contexts: [
      {
        name: context,
        context: { cluster: CLUSTER_NAME, user: p.user, ...(p.namespace ? { namespace: p.namespace } : {}) },
      },
    ],
    "current-context": context,
  });
}
