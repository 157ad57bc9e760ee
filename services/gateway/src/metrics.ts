import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Metric names the gateway exports; dashboards and alerts refer to these. */
export const gatewayMetricNames = {
  requests: "strata_gateway_requests_total",
  requestDuration: "strata_gateway_request_duration_seconds",
  timeToFirstToken: "strata_gateway_time_to_first_token_seconds",
  interTokenLatency: "strata_gateway_inter_token_latency_seconds",
  inputTokens: "strata_gateway_input_tokens_total",
  outputTokens: "strata_gateway_output_tokens_total",
  retries: "strata_gateway_retries_total",
  overhead: "strata_gateway_overhead_seconds",
  inFlight: "strata_gateway_upstream_in_flight",
  replicas: "strata_gateway_replicas",
} as const;

// Latency buckets from 1 ms to 60 s; the overhead histogram starts at 10 µs.
const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const overheadBuckets = [0.00001, 0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.005, 0.01];

/** The gateway's Prometheus instruments, registered on a registry the caller owns. */
export class GatewayMetrics {
  readonly requests: Counter<"model" | "code">;
  readonly requestDuration: Histogram<"model">;
  readonly timeToFirstToken: Histogram<"model">;
  readonly interTokenLatency: Histogram<"model">;
  readonly inputTokens: Counter<"model">;
  readonly outputTokens: Counter<"model">;
  readonly retries: Counter<"model" | "reason">;
  readonly overhead: Histogram;
  readonly inFlight: Gauge<"replica">;
  readonly replicas: Gauge<"model">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: gatewayMetricNames.requests,
      help: "Requests answered, by served model and HTTP status code",
      labelNames: ["model", "code"],
      registers,
    });
    this.requestDuration = new Histogram({
      name: gatewayMetricNames.requestDuration,
      help: "Time from request arrival to the last byte of the response",
      labelNames: ["model"],
      buckets: latencyBuckets,
      registers,
    });
    this.timeToFirstToken = new Histogram({
      name: gatewayMetricNames.timeToFirstToken,
      help: "Time from request arrival to the first streamed token (streaming requests)",
      labelNames: ["model"],
      buckets: latencyBuckets,
      registers,
    });
    this.interTokenLatency = new Histogram({
      name: gatewayMetricNames.interTokenLatency,
      help: "Time between consecutive streamed tokens",
      labelNames: ["model"],
      buckets: latencyBuckets,
      registers,
    });
    this.inputTokens = new Counter({
      name: gatewayMetricNames.inputTokens,
      help: "Prompt tokens, as reported by the heads",
      labelNames: ["model"],
      registers,
    });
    this.outputTokens = new Counter({
      name: gatewayMetricNames.outputTokens,
      help: "Generated tokens, as reported by the heads",
      labelNames: ["model"],
      registers,
    });
    this.retries = new Counter({
      name: gatewayMetricNames.retries,
      help: "Attempts retried on another head before the first byte, by reason",
      labelNames: ["model", "reason"],
      registers,
    });
    this.overhead = new Histogram({
      name: gatewayMetricNames.overhead,
      help: "Time the gateway itself spends on a request before forwarding it to a head",
      buckets: overheadBuckets,
      registers,
    });
    this.inFlight = new Gauge({
      name: gatewayMetricNames.inFlight,
      help: "Requests in flight from this gateway to each head",
      labelNames: ["replica"],
      registers,
    });
    this.replicas = new Gauge({
      name: gatewayMetricNames.replicas,
      help: "Known replica heads by served model",
      labelNames: ["model"],
      registers,
    });
  }
}
