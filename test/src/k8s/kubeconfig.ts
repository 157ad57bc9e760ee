import { stringify } from "yaml";

/** What a kubeconfig for one user of the test cluster needs. */
export interface KubeconfigParams {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  readonly caCertPem: string;
  readonly user: string;
  /** A bearer token, or (for real nodes' kubelets and kube-proxies) a client certificate. */
  readonly token?: string;
  readonly clientCertificate?: { readonly certPem: string; readonly keyPem: string };
  /** Default namespace of the context. */
  readonly namespace?: string;
}

export const CLUSTER_NAME = "strata-test";

/** A kubeconfig (YAML) with a single context that authenticates with a bearer token or a client certificate. */
export function renderKubeconfig(p: KubeconfigParams): string {
  const context = `${p.user}@${CLUSTER_NAME}`;
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  const credentials =
    p.clientCertificate !== undefined
      ? {
          "client-certificate-data": b64(p.clientCertificate.certPem),
          "client-key-data": b64(p.clientCertificate.keyPem),
        }
      : { token: p.token };
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
    users: [{ name: p.user, user: credentials }],
    contexts: [
      {
        name: context,
        context: { cluster: CLUSTER_NAME, user: p.user, ...(p.namespace ? { namespace: p.namespace } : {}) },
      },
    ],
    "current-context": context,
  });
}
