/**
 * Metrics of the NATS plumbing itself, shared by every service that talks to
 * NATS. Registered into the service's own registry.
 */
import { Counter, Gauge, type Registry } from "prom-client";

export const NATS_METRICS = {
  invalidMessages: "strata_nats_invalid_messages_total",
  handlerErrors: "strata_nats_handler_errors_total",
  lifecycleEventsPublished: "strata_lifecycle_events_published_total",
  lifecycleOutboxPending: "strata_lifecycle_outbox_pending",
  lifecycleEventsConsumed: "strata_lifecycle_events_consumed_total",
} as const;

export interface NatsMetrics {
  /** Labels: kind (subject kind, e.g. "heartbeat"), reason ("json" | "schema"). */
  readonly invalidMessages: Counter<"kind" | "reason">;
  readonly handlerErrors: Counter<"kind">;
  readonly lifecycleEventsPublished: Counter<"event">;
  readonly lifecycleOutboxPending: Gauge;
  readonly lifecycleEventsConsumed: Counter<"event">;
}

const cache = new WeakMap<Registry, NatsMetrics>();

/** The NATS metrics of `registry`, created on first use (several helpers share one registry). */
export function natsMetrics(registry: Registry): NatsMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: NatsMetrics = {
    invalidMessages: new Counter({
      name: NATS_METRICS.invalidMessages,
      help: "NATS messages rejected because they were not JSON or did not match their schema.",
      labelNames: ["kind", "reason"],
      registers,
    }),
    handlerErrors: new Counter({
      name: NATS_METRICS.handlerErrors,
      help: "Valid NATS messages whose handler threw; the consumer carried on.",
      labelNames: ["kind"],
      registers,
    }),
    lifecycleEventsPublished: new Counter({
      name: NATS_METRICS.lifecycleEventsPublished,
      help: "Lifecycle events acknowledged by JetStream.",
      labelNames: ["event"],
      registers,
    }),
    lifecycleOutboxPending: new Gauge({
      name: NATS_METRICS.lifecycleOutboxPending,
      help: "Lifecycle events waiting in the local outbox for JetStream to acknowledge them.",
      registers,
    }),
    lifecycleEventsConsumed: new Counter({
      name: NATS_METRICS.lifecycleEventsConsumed,
      help: "Lifecycle events read from the JetStream stream and applied.",
      labelNames: ["event"],
      registers,
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
