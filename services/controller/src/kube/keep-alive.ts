/**
 * API clients that keep their connections to the API server. The Kubernetes
 * client (@kubernetes/client-node 1.x) makes a new https.Agent for every
 * request, so every call pays a fresh TCP connection and TLS handshake, on
 * both sides; at the scale benchmark's hundreds of writes a second that was
 * a large share of the controller's time. This authentication wrapper lets
 * the KubeConfig do its work (token, client certificate), then swaps that
 * one-off agent for one keep-alive agent with the same TLS settings and a TLS
 * context made once (not parsed again for every new connection).
 */
import { Agent as HttpsAgent } from "node:https";
import { createSecureContext } from "node:tls";
import {
  type Configuration,
  createConfiguration,
  type KubeConfig,
  type RequestContext,
  type SecurityAuthentication,
  ServerConfiguration,
} from "@kubernetes/client-node";

class KeepAliveAuthentication implements SecurityAuthentication {
  #agent: HttpsAgent | undefined;

  constructor(private readonly kc: KubeConfig) {}

  getName(): string {
    return "kubeconfig-keep-alive";
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kc.applySecurityAuthentication(context);
    const oneOff = context.getAgent();
    if (!(oneOff instanceof HttpsAgent)) return; // plain HTTP or a proxy: leave it as the client made it
    if (!this.#agent) {
      const { ca, cert, key, pfx, passphrase } = oneOff.options;
      this.#agent = new HttpsAgent({
        ...oneOff.options,
        keepAlive: true,
        // Parsed once: without it every new connection parses the CA and client key again.
        secureContext: createSecureContext({ ca, cert, key, pfx, passphrase }),
      });
    }
    context.setAgent(this.#agent);
  }
}

/** A client configuration for `kc`'s current cluster whose requests reuse kept-alive connections. */
export function keepAliveConfiguration(kc: KubeConfig): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig names no current cluster");
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: new KeepAliveAuthentication(kc) },
  });
}
