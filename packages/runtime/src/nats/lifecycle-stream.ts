/**
 * The JetStream side of lifecycle events: the stream, and a durable consumer
 * that lets a controller (or supervisor) catch up on what it missed while it
 * was down. Stream and consumer are created idempotently by whoever comes first.
 */
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { context } from "@opentelemetry/api";
import {
  decodeMessage,
  LIFECYCLE_STREAM,
  type LifecycleEvent,
  lifecycleEventSchema,
  subjects,
} from "@strata/core";
import type { Registry } from "prom-client";
import type { Logger } from "../log.js";
import { extractNatsHeaders } from "../tracing/propagation.js";
import { natsMetrics } from "./metrics.js";
import type { InvalidMessages } from "./validated.js";

export function lifecycleStreamConfig(): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: LIFECYCLE_STREAM.name,
    subjects: [...LIFECYCLE_STREAM.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(LIFECYCLE_STREAM.maxAgeMs),
    max_msgs_per_subject: LIFECYCLE_STREAM.maxMsgsPerSubject,
    duplicate_window: nanos(LIFECYCLE_STREAM.duplicateWindowMs),
  };
}

/** Creates the lifecycle stream, or brings an existing one's config up to date. */
export async function ensureLifecycleStream(jsm: JetStreamManager): Promise<void> {
  const config = lifecycleStreamConfig();
  try {
    await jsm.streams.info(config.name);
  } catch {
    await jsm.streams.add(config);
    return;
  }
  await jsm.streams.update(config.name, config);
}

/**
 * How long a delivered event may go unacknowledged before it is redelivered.
 * Short, because a consumer that died (or a pull request the server still
 * holds for a closed connection) swallows the events delivered to it until
 * then: this bounds how late a restarted controller sees them.
 */
export const lifecycleAckWaitMs = 5_000;

/** Creates the durable consumer, or updates an existing one to this config. */
async function ensureDurable(
  jsm: JetStreamManager,
  durable: string,
  filter: string | undefined,
): Promise<void> {
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(lifecycleAckWaitMs),
    max_deliver: lifecycleMaxDeliver,
    ...(filter === undefined ? {} : { filter_subject: filter }),
  };
  try {
    await jsm.consumers.info(LIFECYCLE_STREAM.name, durable);
  } catch {
    await jsm.consumers.add(LIFECYCLE_STREAM.name, config);
    return;
  }
  const { durable_name: _name, deliver_policy: _policy, ...updatable } = config;
  await jsm.consumers.update(LIFECYCLE_STREAM.name, durable, updatable);
}

/** Redeliveries of an event whose handler keeps failing, before it is given up on. */
export const lifecycleMaxDeliver = 5;
const retryDelayMs = 1_000;

export interface LifecycleConsumerOptions {
  readonly nc: NatsConnection;
  /** One of LIFECYCLE_CONSUMERS: each role keeps its own position in the stream. */
  readonly durable: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly invalid: InvalidMessages;
  /** Only events of this deployment; all when omitted. */
  readonly deployment?: string;
  onEvent(event: LifecycleEvent, msg: JsMsg): void | Promise<void>;
}

export interface LifecycleConsumer {
  stop(): Promise<void>;
}

/**
 * Reads lifecycle events from the durable consumer, in order, acknowledging
 * each after `onEvent` returns. Survives server restarts: when the message
 * iterator ends or setup fails it starts again after a short delay.
 */
export function consumeLifecycleEvents(options: LifecycleConsumerOptions): LifecycleConsumer {
  const { nc, logger } = options;
  const metrics = natsMetrics(options.registry);
  let stopped = false;
  let current: ConsumerMessages | undefined;

  const handle = async (m: JsMsg): Promise<void> => {
    const decoded = decodeMessage(lifecycleEventSchema, m.data);
    if (!decoded.ok) {
      options.invalid.record(m.subject, decoded.reason, decoded.message);
      m.term(); // garbage is never redelivered
      return;
    }
    try {
      await options.onEvent(decoded.value, m);
      metrics.lifecycleEventsConsumed.inc({ event: decoded.value.kind });
      m.ack();
    } catch (err: unknown) {
      options.invalid.handlerFailed(m.subject, err);
      m.nak(retryDelayMs);
    }
  };

  const run = async (): Promise<void> => {
    while (!stopped && !nc.isClosed()) {
      try {
        const jsm = await jetstreamManager(nc);
        await ensureLifecycleStream(jsm);
        const filter = options.deployment === undefined ? undefined : subjects.lifecycles(options.deployment);
        await ensureDurable(jsm, options.durable, filter);
        const consumer = await jetstream(nc).consumers.get(LIFECYCLE_STREAM.name, options.durable);
        const messages = await consumer.consume({ max_messages: 100, expires: lifecycleAckWaitMs });
        current = messages;
        if (stopped) await messages.close();
        for await (const m of messages) {
          // The handler runs in the publisher's trace: its spans are children of the event.
          await context.with(extractNatsHeaders(m.headers), () => handle(m));
        }
      } catch (err: unknown) {
        if (stopped || nc.isClosed()) break;
        logger.warn("lifecycle consumer interrupted; retrying", {
          durable: options.durable,
          error: String(err),
        });
      }
      if (!stopped) await new Promise((r) => setTimeout(r, retryDelayMs));
    }
  };
  const running = run();

  return {
    stop: async () => {
      stopped = true;
      await current?.close();
      await running;
    },
  };
}
