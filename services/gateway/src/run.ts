import { KubeConfig } from "@kubernetes/client-node";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { InputError } from "@strata/core";
import { Registry } from "prom-client";
import { type GatewayOptions, resolveGatewayConfig } from "./config.js";
import { KubernetesReplicaSource } from "./discovery/kubernetes.js";
import { NatsHeartbeatSource } from "./discovery/nats.js";
import { parseUpstreams, StaticReplicaSource } from "./discovery/static.js";
import { Gateway, type GatewayLog } from "./gateway.js";
import type { ReplicaEndpoint, ReplicaSource } from "./replicas.js";

export interface RunGatewayOptions extends GatewayOptions {
  /** `name=url` specs (the --upstream flag) or ready endpoints. */
  readonly upstreams?: readonly string[] | readonly ReplicaEndpoint[];
  /** Discover heads (or, with `kubernetes`, only their load) from heartbeats on this NATS server. */
  readonly natsUrl?: string;
  /** Discover heads from head EndpointSlices in this namespace. */
  readonly kubernetesNamespace?: string;
  readonly log?: GatewayLog;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The gateway's composition root: resolves settings, connects the discovery
 * sources asked for and starts listening. Used by `strata gateway` and
 * `strata up`.
 */
export async function runGateway(options: RunGatewayOptions): Promise<RunningGateway> {
  const config = resolveGatewayConfig(options);
  const upstreams = options.upstreams ?? [];
  if (upstreams.length === 0 && !options.natsUrl && options.kubernetesNamespace === undefined) {
    throw new InputError("--upstream", "give at least one of --upstream, --nats or --kubernetes");
  }
  const sources: ReplicaSource[] = [];
  if (upstreams.length > 0) {
    const endpoints = upstreams.every((u) => typeof u === "string")
      ? parseUpstreams(upstreams as readonly string[])
      : (upstreams as readonly ReplicaEndpoint[]);
    sources.push(new StaticReplicaSource(endpoints));
  }
  if (options.kubernetesNamespace !== undefined) {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    sources.push(
      new KubernetesReplicaSource(kc, options.kubernetesNamespace, (err) => {
        // A watch that cannot recover leaves routing blind: end the process so it restarts.
        process.stderr.write(`strata gateway: Kubernetes watch failed: ${String(err)}\n`);
        process.exit(1);
      }),
    );
  }
  let nc: NatsConnection | undefined;
  if (options.natsUrl) {
    try {
      nc = await connect({ servers: options.natsUrl, name: "strata-gateway" });
    } catch (err: unknown) {
      throw new InputError("--nats", `cannot connect to ${options.natsUrl}: ${String(err)}`, { cause: err });
    }
    // With Kubernetes discovery, heartbeats only add load; alone, they discover the heads too.
    sources.push(new NatsHeartbeatSource(nc, { discover: options.kubernetesNamespace === undefined }));
  }
  const gateway = new Gateway({
    config,
    registry: new Registry(),
    sources,
    ...(options.log ? { log: options.log } : {}),
  });
  let url: string;
  try {
    url = await gateway.start();
  } catch (err: unknown) {
    await nc?.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new InputError("--port", `port ${config.port} is already in use`, { cause: err });
    throw err;
  }
  return {
    gateway,
    url,
    stop: async () => {
      await gateway.stop();
      await nc?.close();
    },
  };
}
