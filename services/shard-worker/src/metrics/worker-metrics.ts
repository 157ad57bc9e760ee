/**
 * The shard worker's Prometheus metrics, in the worker's private registry.
 * Engine figures are re-exported under Strata's names: gauges and counters
 * whose collect() reads the latest figures the worker scraped from its engine
 * (so a Prometheus scrape never waits on llama-server). Tunnel traffic is
 * counted per stage through the tunnel's observer hooks.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { EngineFigures } from "./llama-metrics.js";
import { WORKER_METRICS } from "./names.js";

/** Where the latest engine figures come from; undefined until the first scrape. */
export interface EngineFiguresSource {
  latest(): EngineFigures | undefined;
}

export interface WorkerMetrics {
  readonly engineUp: Gauge;
  readonly engineRestarts: Counter;
  readonly engineScrapeErrors: Counter;
  readonly heartbeatsPublished: Counter;
  /** Labels: stage (the remote stage), direction ("sent" | "received"). */
  readonly tunnelBytes: Counter<"stage" | "direction">;
  readonly tunnelStreams: Gauge<"stage">;
  readonly tunnelMessageLatency: Histogram<"stage">;
  readonly tunnelRejected: Counter<"stage">;
}

/** Latency buckets from 100 µs (loopback) to 5 s (a slow WAN hop under load). */
const latencyBuckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

export function workerMetrics(registry: Registry, engine: EngineFiguresSource): WorkerMetrics {
  const registers = [registry];
  const fromEngine = (pick: (f: EngineFigures) => number) =>
    function (this: Gauge | Counter) {
      const figures = engine.latest();
      if (figures === undefined) return;
      this.reset();
      this.inc(pick(figures));
    };
  new Gauge({
    name: WORKER_METRICS.requestsRunning,
    help: "Requests the engine is processing now.",
    registers,
    collect: fromEngine((f) => f.requestsRunning),
  });
  new Gauge({
    name: WORKER_METRICS.requestsWaiting,
    help: "Requests queued in the engine, waiting for a free slot.",
    registers,
    collect: fromEngine((f) => f.requestsWaiting),
  });
  new Counter({
    name: WORKER_METRICS.promptTokens,
    help: "Prompt tokens the engine processed (excluding cached ones).",
    registers,
    collect: fromEngine((f) => f.promptTokensTotal),
  });
  new Counter({
    name: WORKER_METRICS.generatedTokens,
    help: "Tokens the engine generated.",
    registers,
    collect: fromEngine((f) => f.generatedTokensTotal),
  });
  new Gauge({
    name: WORKER_METRICS.kvCacheUsage,
    help: "Fraction of the engine's KV cache held by running requests.",
    registers,
    collect: fromEngine((f) => f.kvCacheUsage),
  });
  return {
    engineUp: new Gauge({
      name: WORKER_METRICS.engineUp,
      help: "1 while the engine process is up and ready, else 0.",
      registers,
    }),
    engineRestarts: new Counter({
      name: WORKER_METRICS.engineRestarts,
      help: "Times the worker restarted its engine after it exited.",
      registers,
    }),
    engineScrapeErrors: new Counter({
      name: WORKER_METRICS.engineScrapeErrors,
      help: "Failed reads of the engine's own metrics endpoint.",
      registers,
    }),
    heartbeatsPublished: new Counter({
      name: WORKER_METRICS.heartbeatsPublished,
      help: "Heartbeats this worker published on NATS.",
      registers,
    }),
    tunnelBytes: new Counter({
      name: WORKER_METRICS.tunnelBytes,
      help: "Bytes carried by the activation tunnel, by remote stage and direction.",
      labelNames: ["stage", "direction"],
      registers,
    }),
    tunnelStreams: new Gauge({
      name: WORKER_METRICS.tunnelStreams,
      help: "Tunnel streams open now, by stage.",
      labelNames: ["stage"],
      registers,
    }),
    tunnelMessageLatency: new Histogram({
      name: WORKER_METRICS.tunnelMessageLatency,
      help: "Time from a message sent through the tunnel to the first bytes of its reply, by stage.",
      labelNames: ["stage"],
      buckets: latencyBuckets,
      registers,
    }),
    tunnelRejected: new Counter({
      name: WORKER_METRICS.tunnelRejected,
      help: "Tunnel streams refused for a missing or wrong bearer token, and connections whose bytes are not HTTP/2.",
      labelNames: ["stage"],
      registers,
    }),
  };
}
