import type { Server as NetServer } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { InputError } from "@strata/core";
import {
  connectNats,
  createMetricsRegistry,
  jsonLogger,
  type Logger,
  type NatsConnection,
  setupTracing,
} from "@strata/runtime";
import { type GatewayOptions, resolveGatewayConfig } from "./config.js";
import { KubernetesReplicaSource } from "./discovery/kubernetes.js";
import { NatsHeartbeatSource } from "./discovery/nats.js";
import { parseUpstreams, StaticReplicaSource } from "./discovery/static.js";
import { Gateway } from "./gateway.js";
import type { ReplicaEndpoint, ReplicaSource } from "./replicas.js";

/** Give up on a NATS server that does not answer at start-up after this long. */
export const natsFirstConnectTimeoutMs = 10_000;

export interface RunGatewayOptions extends GatewayOptions {
  /** `name=url` specs (the --upstream flag) or ready endpoints. */
  readonly upstreams?: readonly string[] | readonly ReplicaEndpoint[];
  /** Discover heads (or, with `kubernetesNamespace`, only their load) from heartbeats on this NATS server. */
  readonly natsUrl?: string;
  /** Discover heads from head EndpointSlices in this namespace. */
  readonly kubernetesNamespace?: string;
  readonly log?: Logger;
  /** A listening socket the gateway takes over instead of binding --host/--port. */
  readonly listenOn?: NetServer;
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
  const log = options.log ?? jsonLogger("gateway");
  const upstreams = options.upstreams ?? [];
  if (upstreams.length === 0 && !options.natsUrl && options.kubernetesNamespace === undefined) {
    throw new InputError("--upstream", "give at least one of --upstream, --nats or --kubernetes");
  }
  const sources: ReplicaSource[] = [];
  const registry = createMetricsRegistry({ service: "gateway" });
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
        // A watch that cannot recover leaves routing blind: end the process so it is restarted.
        log.error("Kubernetes watch failed; exiting", { error: String(err) });
        process.exit(1);
      }),
    );
  }
  let nc: NatsConnection | undefined;
  if (options.natsUrl) {
    try {
      nc = await connectNats({
        servers: options.natsUrl,
        name: "strata-gateway",
        logger: log,
        firstConnectTimeoutMs: natsFirstConnectTimeoutMs,
      });
    } catch (err: unknown) {
      throw new InputError("--nats", `cannot connect to ${options.natsUrl}: ${String(err)}`, { cause: err });
    }
    // With Kubernetes discovery, heartbeats only add load; alone, they discover the heads too.
    sources.push(
      new NatsHeartbeatSource(nc, {
        discover: options.kubernetesNamespace === undefined,
        registry,
        logger: log,
      }),
    );
  }
  const tracing = setupTracing({ serviceName: "strata-gateway" });
  const gateway = new Gateway({
    config,
    registry,
    sources,
    tracer: tracing.tracer,
    log,
    ...(options.listenOn ? { listenOn: options.listenOn } : {}),
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
      await tracing.shutdown();
    },
  };
}
