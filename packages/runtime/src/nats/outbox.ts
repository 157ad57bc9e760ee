/**
 * The lifecycle outbox: events go into a local queue first and leave it only
 * when JetStream has acknowledged them. While NATS is down the queue grows;
 * when it comes back the events are sent in order. Each event's id is its
 * Nats-Msg-Id, so an event whose acknowledgement was lost and is re-sent is
 * stored once (within LIFECYCLE_STREAM.duplicateWindowMs).
 */
import { randomUUID } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import {
  encodeMessage,
  type LifecycleEvent,
  lifecycleEventSchema,
  MESSAGE_VERSION,
  subjects,
} from "@strata/core";
import type { Registry } from "prom-client";
import type { Logger } from "../log.js";
import { natsTraceHeaders } from "../tracing/propagation.js";
import { ensureLifecycleStream } from "./lifecycle-stream.js";
import { natsMetrics } from "./metrics.js";

export const outboxPublishTimeoutMs = 2_000;
export const outboxRetryMinMs = 100;
export const outboxRetryMaxMs = 2_000;

interface Pending {
  readonly event: LifecycleEvent;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
}

export type NewLifecycleEvent = Omit<LifecycleEvent, "v" | "id" | "atMs"> & { id?: string; atMs?: number };

export class LifecycleOutbox {
  readonly #nc: NatsConnection;
  readonly #logger: Logger;
  readonly #metrics: ReturnType<typeof natsMetrics>;
  readonly #now: () => number;
  readonly #queue: Pending[] = [];
  readonly #idle: Array<() => void> = [];
  #pumping = false;
  #closed = false;
  #streamReady = false;

  constructor(deps: {
    readonly nc: NatsConnection;
    readonly logger: Logger;
    readonly registry: Registry;
    readonly now?: () => number;
  }) {
    this.#nc = deps.nc;
    this.#logger = deps.logger;
    this.#metrics = natsMetrics(deps.registry);
    this.#now = deps.now ?? Date.now;
  }

  /** Queues an event (validated now, so a bad event fails its caller) and returns it as it will be sent. */
  publish(input: NewLifecycleEvent): LifecycleEvent {
    if (this.#closed) throw new Error("lifecycle outbox is closed");
    const event: LifecycleEvent = {
      ...input,
      v: MESSAGE_VERSION,
      id: input.id ?? randomUUID(),
      atMs: input.atMs ?? this.#now(),
    };
    this.#queue.push({
      event,
      data: encodeMessage(lifecycleEventSchema, event),
      headers: natsTraceHeaders(),
    });
    this.#metrics.lifecycleOutboxPending.set(this.#queue.length);
    void this.#pump();
    return event;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Resolves when every queued event is acknowledged (or rejects after `timeoutMs`). */
  async flush(timeoutMs = 30_000): Promise<void> {
    if (this.#queue.length === 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.#queue.length} lifecycle events still unacknowledged`)),
        timeoutMs,
      );
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Stops sending; events still queued are lost, so flush first when they matter. */
  close(): void {
    this.#closed = true;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    let delayMs = outboxRetryMinMs;
    try {
      while (this.#queue.length > 0 && !this.#closed && !this.#nc.isClosed()) {
        const next = this.#queue[0] as Pending;
        try {
          await this.#send(next);
          this.#queue.shift();
          this.#metrics.lifecycleOutboxPending.set(this.#queue.length);
          this.#metrics.lifecycleEventsPublished.inc({ event: next.event.kind });
          delayMs = outboxRetryMinMs;
        } catch (err: unknown) {
          this.#streamReady = false;
          if (delayMs === outboxRetryMinMs) {
            this.#logger.warn("lifecycle event not yet acknowledged; keeping it in the outbox", {
              event: next.event.kind,
              id: next.event.id,
              pending: this.#queue.length,
              error: String(err),
            });
          }
          await new Promise((r) => setTimeout(r, delayMs));
          delayMs = Math.min(delayMs * 2, outboxRetryMaxMs);
        }
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#queue.length === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  async #send(p: Pending): Promise<void> {
    if (!this.#streamReady) {
      await ensureLifecycleStream(await jetstreamManager(this.#nc, { timeout: outboxPublishTimeoutMs }));
      this.#streamReady = true;
    }
    await jetstream(this.#nc, { timeout: outboxPublishTimeoutMs }).publish(
      subjects.lifecycle(p.event),
      p.data,
      {
        msgID: p.event.id,
        headers: p.headers,
        timeout: outboxPublishTimeoutMs,
      },
    );
  }
}
