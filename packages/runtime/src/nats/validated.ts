/**
 * Subscribing and replying with schema validation at the edge. A message that
 * is not JSON or does not match its schema is rejected, counted in
 * strata_nats_invalid_messages_total and logged once per subject kind and
 * reason; a handler that throws is logged and counted. Neither ends the
 * subscription.
 */

import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeMessage, encodeMessage, subjectKind } from "@strata/core";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { Logger } from "../log.js";
import { natsTraceHeaders } from "../tracing/propagation.js";
import { natsMetrics } from "./metrics.js";

/** Counts rejected messages and logs the first of each kind, so garbage cannot flood the log. */
export class InvalidMessages {
  readonly #logged = new Set<string>();
  readonly #logger: Logger;
  readonly #registry: Registry;

  constructor(deps: { readonly logger: Logger; readonly registry: Registry }) {
    this.#logger = deps.logger;
    this.#registry = deps.registry;
  }

  record(subject: string, reason: "json" | "schema", message: string): void {
    const kind = subjectKind(subject);
    natsMetrics(this.#registry).invalidMessages.inc({ kind, reason });
    const key = `${kind}/${reason}`;
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    this.#logger.warn("rejected invalid NATS message (further ones of this kind are only counted)", {
      subject,
      reason,
      error: message,
    });
  }

  handlerFailed(subject: string, err: unknown): void {
    natsMetrics(this.#registry).handlerErrors.inc({ kind: subjectKind(subject) });
    this.#logger.error("NATS message handler failed", { subject, error: String(err) });
  }
}

export interface ValidatedSubscription<S extends z.ZodType> {
  readonly subject: string;
  readonly schema: S;
  readonly queue?: string;
  readonly invalid: InvalidMessages;
  onMessage(value: z.output<S>, msg: Msg): void | Promise<void>;
}

export function subscribeValidated<S extends z.ZodType>(
  nc: NatsConnection,
  sub: ValidatedSubscription<S>,
): Subscription {
  return nc.subscribe(sub.subject, {
    ...(sub.queue === undefined ? {} : { queue: sub.queue }),
    callback: (err, msg) => {
      if (err) {
        sub.invalid.handlerFailed(sub.subject, err);
        return;
      }
      const decoded = decodeMessage(sub.schema, msg.data);
      if (!decoded.ok) {
        sub.invalid.record(msg.subject, decoded.reason, decoded.message);
        return;
      }
      try {
        const done = sub.onMessage(decoded.value, msg);
        if (done instanceof Promise) done.catch((e: unknown) => sub.invalid.handlerFailed(msg.subject, e));
      } catch (e: unknown) {
        sub.invalid.handlerFailed(msg.subject, e);
      }
    },
  });
}

/** Publishes a validated payload with the active trace context in its headers. */
export function publishValidated<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  schema: S,
  value: z.input<S>,
  hdrs?: MsgHdrs,
): void {
  nc.publish(subject, encodeMessage(schema, value), { headers: natsTraceHeaders(undefined, hdrs) });
}

/** Thrown by requestValidated when nobody answers, the answer is late, or it is malformed. */
export class ControlRequestError extends Error {
  override readonly name = "ControlRequestError";
}

export async function requestValidated<Q extends z.ZodType, R extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  request: { readonly schema: Q; readonly value: z.input<Q> },
  replySchema: R,
  timeoutMs: number,
): Promise<z.output<R>> {
  let reply: Msg;
  try {
    reply = await nc.request(subject, encodeMessage(request.schema, request.value), {
      timeout: timeoutMs,
      headers: natsTraceHeaders(),
    });
  } catch (err: unknown) {
    throw new ControlRequestError(
      `request to ${subject} failed: ${err instanceof Error ? err.message : err}`,
      {
        cause: err,
      },
    );
  }
  const decoded = decodeMessage(replySchema, reply.data);
  if (!decoded.ok) throw new ControlRequestError(`invalid reply on ${subject}: ${decoded.message}`);
  return decoded.value;
}
