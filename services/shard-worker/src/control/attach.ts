/**
 * Joins a worker process to the control plane. The supervisor (local mode) or
 * the controller (Kubernetes) passes STRATA_CONTROL_CONFIG; without it the
 * worker runs alone, as in the tunnel and engine tests. With it the worker
 * serves /metrics, connects to NATS (retrying forever), publishes heartbeats
 * and lifecycle events, answers drain/shutdown/status, and records spans when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { hostname } from "node:os";
import { HEARTBEAT_INTERVAL_MS, InputError, layerRangeSchema, WORKER_ENV } from "@strata/core";
import {
  connectNats,
  createMetricsRegistry,
  jsonLogger,
  type Logger,
  type MetricsServer,
  type NatsConnection,
  setupTracing,
  startMetricsServer,
  type Tracing,
} from "@strata/runtime";
import type { Registry } from "prom-client";
import { z } from "zod";
import { EngineScraper } from "../metrics/engine-scraper.js";
import { type TunnelMetricsObserver, tunnelMetricsObserver } from "../metrics/tunnel-observer.js";
import { type WorkerMetrics, workerMetrics } from "../metrics/worker-metrics.js";
import type { TunnelServerObserver } from "../tunnel/server.js";
import type { HeadEngineAccess } from "../worker/head.js";
import { type HeadFront, startHeadFront } from "./head-front.js";
import { handleRequestMark } from "./request-trace.js";
import { WorkerControl } from "./worker-control.js";

export const CONTROL_CONFIG_ENV = "STRATA_CONTROL_CONFIG";

export const controlConfigSchema = z.object({
  natsUrl: z.string().min(1),
  deployment: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/),
  replica: z.number().int().nonnegative(),
  stage: z.number().int().nonnegative(),
  stageCount: z.number().int().positive(),
  layers: layerRangeSchema,
  engine: z.enum(["llamacpp", "vllm"]).default("llamacpp"),
  /** The address other processes reach this worker at (pod IP in Kubernetes). */
  advertiseHost: z.string().default("127.0.0.1"),
  metricsHost: z.string().default("127.0.0.1"),
  /** 0 picks a free port; the chosen one is logged and sent to the parent. */
  metricsPort: z.number().int().min(0).max(65535).default(0),
});
export type ControlConfig = z.input<typeof controlConfigSchema>;

/** /metrics port of a worker in a Kubernetes pod (where no supervisor picks one). */
export const WORKER_METRICS_PORT = 9400;

/**
 * The control config a Kubernetes pod carries as separate variables
 * (WORKER_ENV, set by the controller); undefined when they are absent.
 */
function controlConfigFromPodEnv(env: NodeJS.ProcessEnv): unknown {
  const natsUrl = env[WORKER_ENV.natsUrl];
  const deployment = env[WORKER_ENV.deployment];
  if (!natsUrl || !deployment) return undefined;
  return {
    natsUrl,
    deployment,
    replica: Number(env[WORKER_ENV.replica]),
    stage: Number(env[WORKER_ENV.stage]),
    stageCount: Number(env[WORKER_ENV.stages]),
    layers: { first: Number(env[WORKER_ENV.firstLayer]), last: Number(env[WORKER_ENV.lastLayer]) },
    engine: env[WORKER_ENV.engine] ?? "llamacpp",
    advertiseHost: env.POD_IP ?? hostname(),
    metricsHost: "0.0.0.0",
    metricsPort: WORKER_METRICS_PORT,
  };
}

/** Parses STRATA_CONTROL_CONFIG (or, in a pod, the WORKER_ENV variables); undefined when neither is set. */
export function controlConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): z.output<typeof controlConfigSchema> | undefined {
  const raw = env[CONTROL_CONFIG_ENV];
  if (raw === undefined || raw === "") {
    const fromPod = controlConfigFromPodEnv(env);
    if (fromPod === undefined) return undefined;
    const parsed = controlConfigSchema.safeParse(fromPod);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(`worker environment: ${issue?.path.join(".") ?? ""}`, issue?.message ?? "invalid");
    }
    return parsed.data;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InputError(CONTROL_CONFIG_ENV, "is not JSON");
  }
  const parsed = controlConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `${CONTROL_CONFIG_ENV}: ${issue?.path.join(".") ?? ""}`,
      issue?.message ?? "invalid",
    );
  }
  return parsed.data;
}

/** The value of STRATA_CONTROL_CONFIG for a worker, for whoever starts workers. */
export function controlConfigEnv(config: ControlConfig): Record<string, string> {
  return { [CONTROL_CONFIG_ENV]: JSON.stringify(controlConfigSchema.parse(config)) };
}

/** The part of EngineSupervisor this module listens to. */
export interface EngineEvents {
  onEvent(listener: (event: { type: string; code?: number | null; signal?: string | null }) => void): unknown;
}

export interface ControlPlane {
  readonly registry: Registry;
  readonly metrics: WorkerMetrics;
  readonly control: WorkerControl;
  readonly tracing: Tracing;
  readonly metricsUrl: string;
  /**
   * Observer for the tunnel to or of `stage`; `dialling` on the head. On a
   * stage it also answers request marks with spans (request-trace.ts).
   */
  tunnelObserver(stage: number, dialling: boolean): TunnelMetricsObserver & TunnelServerObserver;
  /** The head's HTTP front on host:port (startHeadWorker's `front`). */
  headFront(host: string, port: number): (engine: HeadEngineAccess) => Promise<HeadFront>;
  /**
   * The worker's engine is up: report ready and follow its restarts. The head
   * passes llama-server's HTTP port (its figures are read from there and it is
   * advertised as the replica's endpoint); a stage passes its tunnel port.
   */
  started(info: { engine: EngineEvents; httpPort?: number; tunnelPort?: number }): void;
  failed(reason: string): void;
  /** Publishes `stopped`, flushes, closes NATS and the metrics listener. */
  close(reason?: string): Promise<void>;
}

export async function attachControlPlane(options: {
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  /** Ends the worker process; called for a `shutdown` request. */
  readonly onShutdown: () => void | Promise<void>;
}): Promise<ControlPlane | undefined> {
  const config = controlConfigFromEnv(options.env);
  if (config === undefined) return undefined;
  const where = `${config.deployment}/${config.replica}/${config.stage}`;
  const logger = options.logger ?? jsonLogger(`shard-worker ${where}`);
  const tracing = setupTracing({
    serviceName: "strata-shard-worker",
    attributes: {
      "strata.deployment": config.deployment,
      "strata.replica": config.replica,
      "strata.stage": config.stage,
    },
    ...(options.env ? { env: options.env } : {}),
  });
  const registry = createMetricsRegistry({ service: "shard-worker" });
  let scraper: EngineScraper | undefined;
  const metrics = workerMetrics(registry, { latest: () => scraper?.latest() });
  const metricsServer: MetricsServer = await startMetricsServer(registry, {
    host: config.metricsHost,
    port: config.metricsPort,
  });
  logger.info("serving metrics", { url: metricsServer.url });
  const nc: NatsConnection = await connectNats({
    servers: config.natsUrl,
    name: `shard-worker ${where}`,
    logger,
  });
  const control = new WorkerControl({
    nc,
    identity: { ...config },
    logger,
    registry,
    metrics,
    engine: { latest: () => scraper?.latest() },
    onShutdown: options.onShutdown,
  });
  control.start();
  const observers = new Map<number, TunnelMetricsObserver>();
  let enginePort: number | undefined;

  return {
    registry,
    metrics,
    control,
    tracing,
    metricsUrl: metricsServer.url,
    tunnelObserver: (stage, dialling) => {
      const observer = tunnelMetricsObserver(metrics, stage, dialling);
      observers.set(stage, observer);
      return {
        ...observer,
        requestMark: (call) => !dialling && handleRequestMark(tracing.tracer, stage, call, observer.totals),
      };
    },
    headFront: (host, port) => async (engine) => {
      enginePort = engine.enginePort;
      return startHeadFront({
        host,
        port,
        enginePort: engine.enginePort,
        tracer: tracing.tracer,
        state: () => control.state,
        tunnels: engine.tunnels.map((t) => ({
          stage: t.stage,
          openStream: (metadata) => t.listener.openStream(metadata),
          totals: () => observers.get(t.stage)?.totals() ?? { sent: 0, received: 0 },
        })),
      });
    },
    started(info) {
      const host = config.advertiseHost;
      control.setAddresses({
        ...(info.httpPort === undefined ? {} : { endpoint: `http://${host}:${info.httpPort}` }),
        ...(info.tunnelPort === undefined ? {} : { tunnelAddress: `${host}:${info.tunnelPort}` }),
      });
      if (info.httpPort !== undefined) {
        // llama-server itself, not the front: scrapes must not become request spans.
        const engineUrl = `http://127.0.0.1:${enginePort ?? info.httpPort}`;
        scraper = new EngineScraper(engineUrl, HEARTBEAT_INTERVAL_MS, () => metrics.engineScrapeErrors.inc());
        scraper.start();
      }
      metrics.engineUp.set(1);
      info.engine.onEvent((event) => {
        switch (event.type) {
          case "ready":
            metrics.engineUp.set(1);
            control.setState("ready");
            break;
          case "exited":
            metrics.engineUp.set(0);
            if (control.state !== "stopped") {
              control.setState("failed", `engine exited (${event.signal ?? `code ${event.code}`})`);
            }
            break;
          case "restarting":
            control.engineRestarted();
            control.setState("starting", "engine restarting");
            break;
          default:
            break;
        }
      });
      control.setState("ready");
    },
    failed(reason) {
      control.setState("failed", reason);
    },
    async close(reason) {
      scraper?.stop();
      await control.stop(reason);
      await nc.drain().catch(() => nc.close());
      await metricsServer.close();
      await tracing.shutdown();
    },
  };
}
