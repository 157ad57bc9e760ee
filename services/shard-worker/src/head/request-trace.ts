/**
 * Carrying one request's trace through the pipeline. llama.cpp's RPC
 * connections between stages are long-lived and know nothing of requests, so
 * the head marks each request on every stage itself: for the request's
 * duration it holds one extra tunnel stream per remote stage whose gRPC
 * metadata carries the W3C trace context and `strata-request-mark`. The stage
 * worker answers such a stream with a span in that trace (no engine
 * connection is opened) and ends it when the head ends the stream. The
 * result: request span at the head → "tunnel to stage N" (head) → "stage N"
 * (stage worker), each with the tunnel bytes that moved meanwhile.
 */
import { context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { extractGrpcMetadata, injectGrpcMetadata, type MetadataLike } from "@strata/runtime";

export const REQUEST_MARK_METADATA_KEY = "strata-request-mark";
export const STAGE_SPAN_ATTRIBUTES = {
  stage: "strata.stage",
  bytesSent: "strata.tunnel.bytes_sent",
  bytesReceived: "strata.tunnel.bytes_received",
} as const;

/** The part of a tunnel call (GrpcByteStream) a mark uses, client or server side. */
interface MarkCall {
  readonly metadata?: MetadataLike;
  end(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  resume?(): unknown;
}

/** Bytes a stage's tunnel moved so far (live counters, per direction). */
export type TunnelTotals = () => { sent: number; received: number };

export interface MarkedTunnel {
  readonly stage: number;
  /** Opens a raw tunnel stream with extra metadata (TunnelListener.openStream). */
  openStream(metadata: Record<string, string>): MarkCall;
  readonly totals?: TunnelTotals;
}

/**
 * Head side: starts "tunnel to stage N" spans under the active context and
 * opens a mark stream to each stage. Returns the function that ends them.
 */
export function markRequestOnStages(tracer: Tracer, tunnels: readonly MarkedTunnel[]): () => void {
  const marks = tunnels.map((t) => {
    const span = tracer.startSpan(`tunnel to stage ${t.stage}`, {
      kind: SpanKind.CLIENT,
      attributes: { [STAGE_SPAN_ATTRIBUTES.stage]: t.stage },
    });
    const before = t.totals?.();
    const metadata: Record<string, string> = { [REQUEST_MARK_METADATA_KEY]: "1" };
    injectGrpcMetadata(
      {
        get: () => [],
        set: (k, v) => {
          metadata[k] = v;
        },
      },
      trace.setSpan(context.active(), span),
    );
    let call: MarkCall | undefined;
    try {
      call = t.openStream(metadata);
      call.on("error", () => {});
    } catch (err: unknown) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
    }
    return () => {
      call?.end();
      endWithBytes(span, before, t.totals?.());
    };
  });
  return () => {
    for (const end of marks) end();
  };
}

/** Stage side: turns a mark stream into a "stage N" span; true when `call` was a mark. */
export function handleRequestMark(
  tracer: Tracer,
  stage: number,
  call: MarkCall,
  totals?: TunnelTotals,
): boolean {
  const metadata = call.metadata;
  if (!metadata || metadata.get(REQUEST_MARK_METADATA_KEY).length === 0) return false;
  const span = tracer.startSpan(
    `stage ${stage}`,
    { kind: SpanKind.SERVER, attributes: { [STAGE_SPAN_ATTRIBUTES.stage]: stage } },
    extractGrpcMetadata(metadata),
  );
  const before = totals?.();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    endWithBytes(span, before, totals?.());
    call.end();
  };
  call.on("end", end);
  call.on("cancelled", end);
  call.on("error", end);
  call.on("close", end);
  call.on("data", () => {});
  call.resume?.();
  return true;
}

function endWithBytes(
  span: Span,
  before: { sent: number; received: number } | undefined,
  after: { sent: number; received: number } | undefined,
): void {
  if (before && after) {
    span.setAttribute(STAGE_SPAN_ATTRIBUTES.bytesSent, after.sent - before.sent);
    span.setAttribute(STAGE_SPAN_ATTRIBUTES.bytesReceived, after.received - before.received);
  }
  span.end();
}
