/**
 * One shard worker, however it is started (a pod, `strata up`): its
 * configuration comes from the environment contract in core
 * (`parseWorkerEnv`), its HTTP port answers /healthz, /readyz and /metrics at
 * once, its engine starts in the background, and on the head the replica's
 * API is served on the same port once the engine is up.
 */
import { HEARTBEAT_INTERVAL_MS, parseWorkerEnv, type WorkerConfig } from "@strata/core";
import { createMetricsRegistry, jsonLogger, type Logger, setupTracing, type Tracing } from "@strata/runtime";
import type { Registry } from "prom-client";
import { CANARY_INTERVAL_MS, EngineHealth, llamaServerCanary } from "../engine/health-probe.js";
import { llamaCppBinariesIn, llamaCppBinaryPaths } from "../engine/llamacpp-build.js";
import type { EngineSupervisor } from "../engine/supervisor.js";
import { startVllmHead, type VllmHead } from "../engine/vllm-head.js";
import { startVllmStage, type VllmStage } from "../engine/vllm-stage.js";
import { createHeadFront, type HeadFront } from "../head/front.js";
import { type HeadWorker, startHeadWorker } from "../head/head.js";
import { handleRequestMark } from "../head/request-trace.js";
import { EngineScraper } from "../metrics/engine-scraper.js";
import { type TunnelMetricsObserver, tunnelMetricsObserver } from "../metrics/tunnel-observer.js";
import { scrapeVllm } from "../metrics/vllm-metrics.js";
import { type WorkerMetrics, workerMetrics } from "../metrics/worker-metrics.js";
import { type ControlLink, joinControlPlane } from "../nats/link.js";
import type { TunnelServerObserver } from "../tunnel/server.js";
import { startWorkerHttp, type WorkerHttp } from "./http.js";
import { checkModelPresent } from "./model-check.js";
import { type StageWorker, startStageWorker } from "./stage.js";

export interface RunWorkerOptions {
  /** Engine and worker output lines. */
  readonly log?: (line: string) => void;
  readonly logger?: Logger;
  /** Called when a `shutdown` request arrives over NATS (the process should stop). */
  readonly onShutdown?: () => void;
}

export interface RunningWorker {
  readonly config: WorkerConfig;
  readonly httpPort: number;
  readonly registry: Registry;
  /** Resolves with the exit code once the worker has stopped or failed for good. */
  readonly done: Promise<number>;
  /** Stops the engine and every listener; resolves `done` with 0. */
  stop(reason?: string): Promise<void>;
}

/** The engine could not start, or loaded other layers than planned. */
export class WorkerFailedError extends Error {
  override readonly name = "WorkerFailedError";
}

/**
 * Parses the environment, serves the HTTP port and starts the role's engine.
 * @throws InputError naming the variable when the environment is incomplete or wrong, or the model is missing
 */
export async function runWorker(
  env: Readonly<Record<string, string | undefined>>,
  options: RunWorkerOptions = {},
): Promise<RunningWorker> {
  const config = parseWorkerEnv(env);
  checkModelPresent(config);
  const where = `${config.deployment}/${config.replica}/${config.stage}`;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger = options.logger ?? jsonLogger(`shard-worker ${where}`);
  const llamaCppBinaries = () =>
    config.engineHome ? llamaCppBinariesIn(config.engineHome) : llamaCppBinaryPaths();

  const registry = createMetricsRegistry({ service: "shard-worker" });
  let scraper: EngineScraper | undefined;
  const metrics = workerMetrics(registry, { latest: () => scraper?.latest() });
  const tracing = setupTracing({
    serviceName: "strata-shard-worker",
    attributes: {
      "strata.deployment": config.deployment,
      "strata.replica": config.replica,
      "strata.stage": config.stage,
    },
    env: env as NodeJS.ProcessEnv,
  });

  let engineReady = false;
  let head: HeadWorker | undefined;
  let front: HeadFront | undefined;
  let stage: StageWorker | undefined;
  let vllmHead: VllmHead | undefined;
  let vllmStage: VllmStage | undefined;
  let link: ControlLink | undefined;
  let health: EngineHealth | undefined;
  let failure: string | undefined;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const http: WorkerHttp = await startWorkerHttp({
    host: config.bindHost,
    port: config.httpPort,
    registry,
    live: () => failure === undefined,
    readiness: () => readiness(config, { engineReady, head, stage, vllmHead, vllmStage, link, failure }),
  });

  let stopping = false;
  const stop = async (reason = "worker stopped", code = 0) => {
    if (stopping) return;
    stopping = true;
    // Each step runs whatever the one before it did: a broker that is gone
    // (its supervisor was killed too) must not keep the engines running.
    const attempt = async (what: string, step: () => unknown) => {
      try {
        await step();
      } catch (err) {
        logger.warn(`stopping: ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    scraper?.stop();
    health?.stop();
    await attempt("closing the NATS link", () => link?.close(reason));
    front?.close();
    await attempt("stopping the head", () => head?.stop());
    await attempt("stopping the stage", () => stage?.stop());
    await attempt("stopping vLLM node 0", () => vllmHead?.stop());
    await attempt("stopping the vLLM node", () => vllmStage?.stop());
    await attempt("closing the HTTP server", () => http.close());
    await attempt("flushing traces", () => tracing.shutdown());
    finish(code);
  };

  if (config.natsUrl !== undefined) {
    link = await joinControlPlane({
      config,
      natsUrl: config.natsUrl,
      logger,
      registry,
      metrics,
      engine: { latest: () => scraper?.latest() },
      probe: () => health?.latest(),
      ...(config.role === "head" ? { inFlight: () => front?.inFlight() ?? 0 } : {}),
      intervalMs: HEARTBEAT_INTERVAL_MS,
      onShutdown: () => (options.onShutdown ? options.onShutdown() : stop("shutdown requested")),
    });
  }

  const followEngine = (
    engine: EngineSupervisor,
    canary?: { send: (signal: AbortSignal) => Promise<void>; lastOutputAtMs: () => number },
  ) => {
    engineReady = true;
    metrics.engineUp.set(1);
    health = new EngineHealth({
      pid: () => engine.pid,
      active: () => engineReady,
      processIntervalMs: HEARTBEAT_INTERVAL_MS,
      ...(canary ? { canary: { ...canary, intervalMs: CANARY_INTERVAL_MS } } : {}),
    });
    health.start();
    engine.onEvent((event) => {
      if (event.type === "ready") {
        engineReady = true;
        metrics.engineUp.set(1);
      } else if (event.type === "exited") {
        engineReady = false;
        metrics.engineUp.set(0);
      } else if (event.type === "restarting") {
        metrics.engineRestarts.inc();
        link?.control.engineRestarted();
      }
    });
  };

  /** The worker cannot serve any more: fail what is in flight, report, and exit non-zero. */
  const failWorker = async (reason: string) => {
    if (stopping || failure !== undefined) return;
    failure = reason;
    process.stderr.write(`strata worker: ${failure}\n`);
    front?.failInFlight(failure);
    link?.failed(failure);
    await stop(`worker failed: ${failure}`, 1);
  };

  /**
   * vLLM: the stages form one vLLM instance; any node's end ends the group
   * (engine/vllm-head.ts, engine/vllm-stage.ts), so this worker fails and the
   * group restarts as a whole.
   */
  const startVllmRole = async () => {
    const deps = { log, onGroupFailed: (reason: string) => void failWorker(`vLLM group failed: ${reason}`) };
    const advertise = config.advertiseHost ?? config.bindHost;
    if (config.role === "stage") {
      vllmStage = await startVllmStage(config, deps);
      followEngine(vllmStage.engine);
      link?.started(vllmStage.engine, { tunnelAddress: `${advertise}:${vllmStage.linkPort}` });
      return;
    }
    vllmHead = await startVllmHead(config, deps);
    front = createHeadFront({
      enginePort: vllmHead.enginePort,
      tracer: tracing.tracer,
      state: () => link?.control.state ?? (failure === undefined ? "ready" : "failed"),
      tunnels: [],
    });
    http.route(front.handle);
    scraper = new EngineScraper(
      `http://127.0.0.1:${vllmHead.enginePort}`,
      HEARTBEAT_INTERVAL_MS,
      () => metrics.engineScrapeErrors.inc(),
      scrapeVllm,
    );
    scraper.start();
    vllmHead.watch(() => scraper?.latest()?.generatedTokensTotal);
    followEngine(vllmHead.engine);
    link?.started(vllmHead.engine, { endpoint: `http://${advertise}:${http.port}` });
    log(`[head] serving ${config.servedModelName} on port ${http.port} (vLLM)`);
  };

  const observers = new Map<number, TunnelMetricsObserver>();
  const startRole = async () => {
    if (config.engine === "vllm") {
      await startVllmRole();
      return;
    }
    const binaries = llamaCppBinaries();
    if (config.role === "stage") {
      stage = await startStageWorker(config, {
        log,
        rpcServerPath: binaries.rpcServer,
        tunnelObserver: stageTunnelObserver(metrics, tracing, config.stage),
      });
      followEngine(stage.engine);
      link?.started(stage.engine, {
        tunnelAddress: `${config.advertiseHost ?? config.bindHost}:${stage.tunnelPort}`,
      });
      return;
    }
    head = await startHeadWorker(config, {
      log,
      llamaServerPath: binaries.llamaServer,
      listenerObserverFor: (s) => {
        const observer = tunnelMetricsObserver(metrics, s, true);
        observers.set(s, observer);
        return observer;
      },
    });
    const { access } = head;
    front = createHeadFront({
      enginePort: access.enginePort,
      tracer: tracing.tracer,
      state: () => link?.control.state ?? "ready",
      tunnels: access.tunnels.map((t) => ({
        stage: t.stage,
        openStream: (metadata) => t.listener.openStream(metadata),
        totals: () => observers.get(t.stage)?.totals() ?? { sent: 0, received: 0 },
      })),
    });
    http.route(front.handle);
    // llama-server itself, not the front: scrapes must not become request spans.
    scraper = new EngineScraper(`http://127.0.0.1:${access.enginePort}`, HEARTBEAT_INTERVAL_MS, () =>
      metrics.engineScrapeErrors.inc(),
    );
    scraper.start();
    const headFront = front;
    followEngine(head.engine, {
      send: llamaServerCanary(access.enginePort),
      lastOutputAtMs: () => headFront.lastOutputAtMs(),
    });
    link?.started(head.engine, {
      endpoint: `http://${config.advertiseHost ?? config.bindHost}:${http.port}`,
    });
    log(`[head] serving ${config.servedModelName} on port ${http.port}`);
  };

  startRole().catch((err: unknown) => failWorker(err instanceof Error ? err.message : String(err)));

  return { config, httpPort: http.port, registry, done, stop: (reason) => stop(reason) };
}

/** A stage's tunnel metrics, plus answering the head's request marks with spans. */
function stageTunnelObserver(metrics: WorkerMetrics, tracing: Tracing, stage: number): TunnelServerObserver {
  const observer = tunnelMetricsObserver(metrics, stage, false);
  return {
    ...observer,
    requestMark: (call) => handleRequestMark(tracing.tracer, stage, call, observer.totals),
  };
}

interface ReadinessInputs {
  readonly engineReady: boolean;
  readonly head: HeadWorker | undefined;
  readonly stage: StageWorker | undefined;
  readonly vllmHead: VllmHead | undefined;
  readonly vllmStage: VllmStage | undefined;
  readonly link: ControlLink | undefined;
  readonly failure: string | undefined;
}

/**
 * A stage is ready when its engine answers. A head is ready when llama-server
 * answers, every stage tunnel is connected, and it is not draining.
 */
function readiness(config: WorkerConfig, s: ReadinessInputs) {
  const state = s.link?.control.state;
  const draining = state === "draining" || state === "stopped";
  const base = {
    role: config.role,
    stage: config.stage,
    layers: config.layers,
    engine: s.engineReady ? "up" : "starting",
    ...(state === undefined ? {} : { state }),
    ...(s.failure === undefined ? {} : { failure: s.failure }),
  };
  if (config.engine === "vllm") return vllmReadiness(config, s, draining, base);
  if (config.role === "stage") {
    const rpcCache = s.stage?.rpcCache;
    return { ready: s.engineReady && !draining, ...base, ...(rpcCache ? { rpcCache } : {}) };
  }
  const tunnels = s.head?.access.tunnels.map((t) => ({
    stage: t.stage,
    connected: t.listener.openConnections > 0,
  }));
  const connected = tunnels?.every((t) => t.connected) ?? false;
  return {
    ready: s.engineReady && connected && !draining && s.head !== undefined,
    ...base,
    tunnels: tunnels ?? [],
    placement: s.head?.placement() ?? [],
  };
}

/**
 * vLLM. A stage is ready when its node runs, its head is linked and said the
 * group answered the canary. A head is ready when every stage is linked and
 * the latest canary (or generated tokens since) says the group computes.
 */
function vllmReadiness(
  config: WorkerConfig,
  s: ReadinessInputs,
  draining: boolean,
  base: Record<string, unknown>,
) {
  const up = s.engineReady && s.failure === undefined && !draining;
  if (config.role === "stage") {
    const leaderReady = s.vllmStage?.leaderReady() ?? false;
    return {
      ready: up && leaderReady,
      ...base,
      leader: { linked: s.vllmStage?.linked() ?? false, ready: leaderReady },
    };
  }
  const links = s.vllmHead?.links() ?? [];
  const canary = s.vllmHead?.healthy() ?? false;
  const kvCacheTokens = s.vllmHead?.kvCacheTokens();
  return {
    ready: up && canary && links.every((l) => l.linked),
    ...base,
    canary: canary ? "ok" : "failing",
    links,
    ...(kvCacheTokens === undefined ? {} : { kvCacheTokens }),
  };
}
