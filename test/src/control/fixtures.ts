/**
 * Control-plane test fixtures: workers' NATS side (WorkerControl) on their
 * own connections, and the local supervisor's cluster state (the
 * ClusterStateService that `strata up` runs, with the supervisor's durable
 * consumer) on another, all against a real nats-server. The state keeper runs
 * in-process so a test can read its state directly; the controller's own use
 * of it is tested with the real `strata controller` process
 * (test/src/controller/controller-nats.test.ts). The engine behind a worker is
 * a plain figures object the test sets: these tests are about the control
 * plane, not llama.cpp.
 */

import { ClusterStateService } from "@strata/controller";
import type { LayerRange } from "@strata/core";
import { LIFECYCLE_CONSUMERS } from "@strata/core";
import { connectNats, createMetricsRegistry, type Logger, type NatsConnection } from "@strata/runtime";
import { type EngineFiguresSource, WorkerControl, workerMetrics } from "@strata/shard-worker";
import type { Registry } from "prom-client";

export interface LogLine {
  readonly level: "info" | "warn" | "error";
  readonly message: string;
  readonly fields?: Record<string, unknown>;
}

export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (message, fields) => lines.push({ level: "info", message, ...(fields && { fields }) }),
    warn: (message, fields) => lines.push({ level: "warn", message, ...(fields && { fields }) }),
    error: (message, fields) => lines.push({ level: "error", message, ...(fields && { fields }) }),
  };
}

export interface Figures {
  requestsRunning: number;
  requestsWaiting: number;
  promptTokensTotal: number;
  generatedTokensTotal: number;
  kvCacheUsage: number;
}

export interface TestWorker {
  readonly nc: NatsConnection;
  readonly control: WorkerControl;
  readonly registry: Registry;
  readonly logger: ReturnType<typeof memoryLogger>;
  /** What the worker's "engine" reports; undefined = no figures. */
  figures: Figures | undefined;
  shutdownCalls: number;
  close(): Promise<void>;
}

export async function startWorker(
  url: string,
  ref: { deployment: string; replica: number; stage: number; stageCount: number; layers: LayerRange },
): Promise<TestWorker> {
  const logger = memoryLogger();
  const nc = await connectNats({ servers: url, name: `test-worker ${ref.stage}`, logger });
  const registry = createMetricsRegistry({ service: "shard-worker", defaults: false });
  const worker: TestWorker = {
    nc,
    registry,
    logger,
    figures: undefined,
    shutdownCalls: 0,
    control: undefined as unknown as WorkerControl,
    async close() {
      await this.control.stop();
      await nc.close();
    },
  };
  const engine: EngineFiguresSource = { latest: () => worker.figures };
  (worker as { control: WorkerControl }).control = new WorkerControl({
    nc,
    identity: { ...ref, engine: "llamacpp" },
    logger,
    registry,
    metrics: workerMetrics(registry, engine),
    engine,
    onShutdown: () => {
      worker.shutdownCalls++;
    },
  });
  worker.control.start();
  // The control subscription reaches the server asynchronously; a round trip
  // makes sure it is registered before a test sends the first request to it.
  await nc.flush();
  return worker;
}

/** A replica of `stageCount` workers, all reporting ready. */
export async function startReplica(url: string, deployment: string, stageCount = 3): Promise<TestWorker[]> {
  const workers: TestWorker[] = [];
  for (let stage = 0; stage < stageCount; stage++) {
    const w = await startWorker(url, {
      deployment,
      replica: 0,
      stage,
      stageCount,
      layers: { first: stage * 4, last: stage * 4 + 3 },
    });
    w.control.setState("ready");
    workers.push(w);
  }
  return workers;
}

export interface TestStateKeeper {
  readonly nc: NatsConnection;
  readonly service: ClusterStateService;
  readonly registry: Registry;
  readonly logger: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
}

/** The supervisor's cluster state on its own connection; `durable` defaults to the supervisor's. */
export async function startStateKeeper(
  url: string,
  durable: string = LIFECYCLE_CONSUMERS.supervisor,
): Promise<TestStateKeeper> {
  const logger = memoryLogger();
  const nc = await connectNats({ servers: url, name: "test-supervisor", logger });
  const registry = createMetricsRegistry({ service: "supervisor" });
  const service = new ClusterStateService({ nc, logger, registry, durable, source: "supervisor" });
  service.start();
  return {
    nc,
    service,
    registry,
    logger,
    async close() {
      await service.stop();
      await nc.close();
    },
  };
}

/** The value of one counter/gauge sample in a registry, 0 when absent. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const sample = data.values.find((v) =>
    Object.entries(labels).every(([k, value]) => String((v.labels as Record<string, unknown>)[k]) === value),
  );
  return sample?.value ?? 0;
}
