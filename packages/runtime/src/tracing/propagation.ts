/**
 * W3C trace context (`traceparent`, `tracestate`) across Strata's three
 * carriers: HTTP headers at the edge, gRPC metadata in the activation tunnel
 * and NATS message headers on the control plane. Works whether or not this
 * process records spans: the context passes through either way.
 */

import type { MsgHdrs } from "@nats-io/transport-node";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Context,
  context,
  propagation,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";

/** The subset of @grpc/grpc-js `Metadata` used here (kept structural: no gRPC dependency). */
export interface MetadataLike {
  get(key: string): Array<string | Buffer>;
  set(key: string, value: string): void;
}

const metadataGetter: TextMapGetter<MetadataLike> = {
  keys: () => ["traceparent", "tracestate"],
  get: (carrier, key) => {
    const values = carrier.get(key).map((v) => v.toString());
    return values.length === 0 ? undefined : values;
  },
};
const metadataSetter: TextMapSetter<MetadataLike> = { set: (carrier, key, value) => carrier.set(key, value) };

export function injectGrpcMetadata(metadata: MetadataLike, ctx: Context = context.active()): void {
  propagation.inject(ctx, metadata, metadataSetter);
}

export function extractGrpcMetadata(metadata: MetadataLike, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, metadata, metadataGetter);
}

const natsGetter: TextMapGetter<MsgHdrs> = {
  keys: (carrier) => carrier.keys(),
  get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
};
const natsSetter: TextMapSetter<MsgHdrs> = { set: (carrier, key, value) => carrier.set(key, value) };

/** NATS headers carrying the active (or given) trace context; empty headers when there is none. */
export function natsTraceHeaders(ctx: Context = context.active(), into: MsgHdrs = natsHeaders()): MsgHdrs {
  propagation.inject(ctx, into, natsSetter);
  return into;
}

export function extractNatsHeaders(hdrs: MsgHdrs | undefined, ctx: Context = context.active()): Context {
  return hdrs === undefined ? ctx : propagation.extract(ctx, hdrs, natsGetter);
}

type HttpHeaders = Record<string, string | string[] | undefined>;

const httpGetter: TextMapGetter<HttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};
const httpSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Context from an incoming Node HTTP request's headers (lower-cased keys). */
export function extractHttpHeaders(hdrs: HttpHeaders, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, hdrs, httpGetter);
}

/** Adds `traceparent`/`tracestate` to outgoing HTTP headers. */
export function injectHttpHeaders(
  hdrs: Record<string, string>,
  ctx: Context = context.active(),
): Record<string, string> {
  propagation.inject(ctx, hdrs, httpSetter);
  return hdrs;
}
