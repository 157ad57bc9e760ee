/**
 * TLS for one deployment's tunnels: a private CA and one server certificate
 * every stage of the deployment presents, both made here and kept in the
 * deployment's tunnel Secret. The head trusts only that CA and checks the
 * certificate's name (TUNNEL_TLS.serverName, which it asks for whatever
 * address it dials), so the bearer token never crosses the network in clear
 * text and only pods given the Secret can serve a stage.
 */
// @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { TUNNEL_TLS } from "@strata/core";

/** Long-lived: a new Secret (delete the old one) rotates it. */
const VALIDITY_DAYS = 5 * 365;
const DAY_MS = 86_400_000;
const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface TunnelTlsMaterial {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

export async function makeTunnelTls(deployment: string, namespace: string): Promise<TunnelTlsMaterial> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const notBefore = new Date(Date.now() - DAY_MS);
  const notAfter = new Date(Date.now() + VALIDITY_DAYS * DAY_MS);
  const caKeys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=strata tunnel CA ${namespace}/${deployment}`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const serverKeys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${TUNNEL_TLS.serverName}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: TUNNEL_TLS.serverName }]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", serverKeys.privateKey);
  return {
    caCert: ca.toString("pem"),
    cert: server.toString("pem"),
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
  };
}

function serial(): string {
  // Positive, 16 random bytes in hex.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}
