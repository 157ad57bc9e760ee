/**
 * One private Prometheus registry per service: nothing registers into
 * prom-client's global registry, so two services in one process (tests, local
 * mode) never collide. Strata's own metrics carry the `strata_` prefix; the
 * process and Node.js runtime defaults keep their standard names
 * (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, ...) so stock
 * dashboards work.
 */
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

export const METRIC_PREFIX = "strata_";
export const BUILD_INFO_METRIC = "strata_build_info";
export const STRATA_VERSION = "0.1.0";

export interface MetricsRegistryOptions {
  /** The `service` label of `strata_build_info`, e.g. "shard-worker". */
  readonly service: string;
  /** Process and runtime defaults; on unless a test wants a small output. */
  readonly defaults?: boolean;
}

const misnamedDefaults = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
] as const;

export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  if (options.defaults ?? true) {
    collectDefaultMetrics({ register: registry });
    // Gauges named like counters fail `promtool check metrics`; their per-type
    // siblings (nodejs_active_handles{type=...} etc.) carry the same figures.
    for (const name of misnamedDefaults) registry.removeSingleMetric(name);
  }
  new Gauge({
    name: BUILD_INFO_METRIC,
    help: "Always 1; labels name the Strata service and version.",
    labelNames: ["service", "version"],
    registers: [registry],
  }).set({ service: options.service, version: STRATA_VERSION }, 1);
  return registry;
}

/** Throws at start-up when a metric name misses the prefix: names are a contract. */
export function strataName(name: string): string {
  if (!name.startsWith(METRIC_PREFIX)) throw new Error(`metric "${name}" must start with ${METRIC_PREFIX}`);
  return name;
}
