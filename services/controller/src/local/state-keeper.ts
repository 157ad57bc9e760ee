/**
 * What keeps the state of a local cluster (`strata up`): a nats-server with
 * JetStream on a free loopback port (or the user's NATS with --nats-url /
 * NATS_URL), the supervisor's cluster state fed by heartbeats and lifecycle
 * events (it answers `strata status`), and the supervisor's /metrics.
 */

import { InputError, LIFECYCLE_CONSUMERS } from "@strata/core";
import {
  connectNats,
  createMetricsRegistry,
  installNatsServer,
  jsonLogger,
  type Logger,
  type MetricsServer,
  type NatsConnection,
  NatsServerMissingError,
  NatsServerProcess,
  removeLocalEndpoint,
  startMetricsServer,
  writeLocalEndpoint,
} from "@strata/runtime";
import { ClusterStateService, type ClusterTransition } from "../cluster-state/index.js";

export interface LocalStateKeeper {
  readonly natsUrl: string;
  /** True when Strata started the nats-server (no --nats-url). */
  readonly ownsServer: boolean;
  readonly metricsUrl: string;
  readonly state: ClusterStateService;
  stop(): Promise<void>;
}

export interface LocalStateKeeperOptions {
  /** The user's NATS (from --nats-url or NATS_URL); a local server is started when undefined. */
  readonly natsUrl?: string;
  readonly progress: (line: string) => void;
  readonly logger?: Logger;
  readonly onTransition?: (t: ClusterTransition) => void;
}

export async function startLocalStateKeeper(options: LocalStateKeeperOptions): Promise<LocalStateKeeper> {
  const logger = options.logger ?? jsonLogger("supervisor", () => {});
  let server: NatsServerProcess | undefined;
  if (options.natsUrl === undefined) {
    try {
      // Like llama.cpp, built on first use when `strata setup` has not run.
      const say = (m: string, f?: Record<string, unknown>) =>
        options.progress(f ? `${m} ${JSON.stringify(f)}` : m);
      const binary = await installNatsServer({ info: say, warn: say, error: say });
      server = await NatsServerProcess.start({ binary });
    } catch (err: unknown) {
      if (err instanceof NatsServerMissingError)
        throw new InputError("--nats-url", err.message, { cause: err });
      throw err;
    }
    options.progress(`nats-server (JetStream) on ${server.url}`);
  }
  const natsUrl = options.natsUrl ?? (server as NatsServerProcess).url;
  let nc: NatsConnection | undefined;
  let metrics: MetricsServer | undefined;
  try {
    nc = await connectNats({
      servers: natsUrl,
      name: "strata up supervisor",
      logger,
      firstConnectTimeoutMs: 20_000,
    });
    const registry = createMetricsRegistry({ service: "supervisor" });
    const state = new ClusterStateService({
      nc,
      logger,
      registry,
      durable: LIFECYCLE_CONSUMERS.supervisor,
      source: "supervisor",
      ...(options.onTransition ? { onTransition: options.onTransition } : {}),
    });
    state.start();
    metrics = await startMetricsServer(registry);
    await writeLocalEndpoint({ natsUrl, pid: process.pid });
    options.progress(`supervisor metrics at ${metrics.url}; \`strata status\` shows the cluster`);
    const conn = nc;
    const metricsServer = metrics;
    return {
      natsUrl,
      ownsServer: server !== undefined,
      metricsUrl: metrics.url,
      state,
      async stop() {
        await removeLocalEndpoint(process.pid);
        await state.stop();
        await conn.close();
        await metricsServer.close();
        await server?.stop();
      },
    };
  } catch (err: unknown) {
    await nc?.close();
    await metrics?.close();
    await server?.stop();
    throw err;
  }
}
