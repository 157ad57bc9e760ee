import { execFile } from "node:child_process";
import { generateKeyPair, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

/**
 * Credentials for one throwaway control plane: a CA, the API server's serving
 * certificate (openssl CLI — node:crypto cannot issue X.509 certificates), the
 * service-account signing key pair (node:crypto) and static bearer tokens for
 * the admin and the control-plane components. All files live in `dir`.
 */
export interface ControlPlanePki {
  readonly caCertPath: string;
  readonly caCertPem: string;
  /** Signs client certificates for real nodes' kubelets and kube-proxies (issueClientCertificate). */
  readonly caKeyPath: string;
  readonly servingCertPath: string;
  readonly servingKeyPath: string;
  readonly serviceAccountPublicKeyPath: string;
  readonly serviceAccountPrivateKeyPath: string;
  /** `--token-auth-file` for the API server. */
  readonly tokenFilePath: string;
  readonly tokens: ComponentTokens;
}

/** Bearer tokens, each mapped to the user the component runs as in a kubeadm cluster. */
export interface ComponentTokens {
  /** User `strata-admin` in group `system:masters`. */
  readonly admin: string;
  /** User `system:kube-scheduler` (bound by the default `system:kube-scheduler` ClusterRoleBinding). */
  readonly scheduler: string;
  /** User `system:kube-controller-manager`. */
  readonly controllerManager: string;
}

/** The in-cluster address of the `kubernetes` Service is the first IP of this range. */
export const SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16";
/** ClusterIP of the `kube-dns` Service real nodes' pods resolve names with. */
export const CLUSTER_DNS_IP = "10.96.0.10";
const KUBERNETES_SERVICE_IP = "10.96.0.1";

const execFileAsync = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

const opensslConfig = (extraIps: readonly string[]): string => `[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = ${["127.0.0.1", KUBERNETES_SERVICE_IP, ...extraIps].map((a) => `IP:${a}`).join(",")},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

/**
 * `extraIps`: more addresses the serving certificate is valid for, e.g. the
 * host address that real nodes and their pods reach the API server on.
 */
export async function createControlPlanePki(
  dir: string,
  extraIps: readonly string[] = [],
): Promise<ControlPlanePki> {
  const configPath = join(dir, "openssl.cnf");
  await writeFile(configPath, opensslConfig(extraIps));
  const caCertPath = join(dir, "ca.crt");
  const caKeyPath = join(dir, "ca.key");
  const servingCertPath = join(dir, "apiserver.crt");
  const servingKeyPath = join(dir, "apiserver.key");
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650"];
  await openssl(
    ["req", "-x509", "-config", configPath, "-extensions", "ca_ext", ...ecKey].concat([
      "-subj",
      "/CN=strata-test-ca",
      "-keyout",
      caKeyPath,
      "-out",
      caCertPath,
    ]),
  );
  await openssl(
    ["req", "-x509", "-config", configPath, "-extensions", "server_ext", ...ecKey]
      .concat(["-subj", "/CN=kube-apiserver", "-CA", caCertPath, "-CAkey", caKeyPath])
      .concat(["-keyout", servingKeyPath, "-out", servingCertPath]),
  );

  const sa = await generateKeyPairAsync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const serviceAccountPublicKeyPath = join(dir, "sa.pub");
  const serviceAccountPrivateKeyPath = join(dir, "sa.key");
  await writeFile(serviceAccountPublicKeyPath, sa.publicKey);
  await writeFile(serviceAccountPrivateKeyPath, sa.privateKey, { mode: 0o600 });

  const tokens: ComponentTokens = { admin: token(), scheduler: token(), controllerManager: token() };
  const tokenFilePath = join(dir, "tokens.csv");
  // Format: token,user,uid,"group1,group2" (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#static-token-file)
  const lines = [
    `${tokens.admin},strata-admin,strata-admin,"system:masters"`,
    `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
    `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager`,
  ];
  await writeFile(tokenFilePath, `${lines.join("\n")}\n`, { mode: 0o600 });

  return {
    caCertPath,
    caCertPem: await readFile(caCertPath, "utf8"),
    caKeyPath,
    servingCertPath,
    servingKeyPath,
    serviceAccountPublicKeyPath,
    serviceAccountPrivateKeyPath,
    tokenFilePath,
    tokens,
  };
}

/** A client certificate and key signed by the cluster CA, as PEM text. */
export interface ClientCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * A client certificate for `commonName` in `organization` (Kubernetes reads
 * them as user and group): `system:node:<name>` in `system:nodes` for a
 * kubelet (the Node authorizer), `system:kube-proxy` for kube-proxy.
 */
export async function issueClientCertificate(
  pki: ControlPlanePki,
  dir: string,
  commonName: string,
  organization?: string,
): Promise<ClientCertificate> {
  const base = join(dir, commonName.replaceAll(":", "-"));
  const subject = `${organization !== undefined ? `/O=${organization}` : ""}/CN=${commonName}`;
  await openssl(
    ["req", "-x509", "-config", join(dirname(pki.caCertPath), "openssl.cnf"), "-extensions", "client_ext"]
      .concat(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650"])
      .concat(["-subj", subject, "-CA", pki.caCertPath, "-CAkey", pki.caKeyPath])
      .concat(["-keyout", `${base}.key`, "-out", `${base}.crt`]),
  );
  return { certPem: await readFile(`${base}.crt`, "utf8"), keyPem: await readFile(`${base}.key`, "utf8") };
}

function token(): string {
  return randomBytes(24).toString("hex");
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args);
  } catch (err: unknown) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}
