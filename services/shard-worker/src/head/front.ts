/**
 * The head's request path: the replica's API, served on the worker's HTTP port
 * in front of llama-server on a private loopback port. Per request it continues the
 * caller's W3C trace (a server span), marks the request on every stage (see
 * request-trace.ts) and passes the trace context on to llama-server. While the
 * stage drains or stops it refuses new requests with 503 and Retry-After, and
 * lets in-flight ones finish: that is what `drain` means at the head.
 */
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { StageState } from "@strata/core";
import { extractHttpHeaders, injectHttpHeaders } from "@strata/runtime";
import { type MarkedTunnel, markRequestOnStages } from "./request-trace.js";

export interface HeadFrontOptions {
  /** llama-server's private loopback port. */
  readonly enginePort: number;
  readonly tracer: Tracer;
  readonly tunnels: readonly MarkedTunnel[];
  /** The stage's state now: new requests are refused unless "ready" or "starting". */
  readonly state: () => StageState;
}

export interface HeadFront {
  /** Serves one request of the replica's API (mounted into the worker's HTTP port). */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Requests being proxied now. */
  readonly inFlight: () => number;
  /**
   * Ends every request in flight with an error naming `reason` (the replica's
   * engine group is gone): an OpenAI error with 503 when the response has not
   * started, an error event ending the stream when it has.
   */
  failInFlight(reason: string): void;
  /** When the engine last sent response bytes to a client (ms since the epoch, 0 before the first). */
  readonly lastOutputAtMs: () => number;
  close(): void;
}

/** One proxied request, so a failing replica can end it with a clear error. */
interface OpenRequest {
  readonly res: ServerResponse;
  abortUpstream: () => void;
  /** Ended by failInFlight: the upstream's own close must not touch the response. */
  failed: boolean;
  /** The engine answers with server-sent events. */
  streaming: boolean;
}

/** Paths that carry inference work (and get a request mark on the stages). */
const INFERENCE_PATHS = /^\/(v1\/(chat\/)?completions|completion|v1\/embeddings|embedding|infill)\b/;
const drainRetryAfterSeconds = 1;

export function createHeadFront(options: HeadFrontOptions): HeadFront {
  let inFlight = 0;
  const open = new Set<OpenRequest>();
  let lastOutputAtMs = 0;
  const sawOutput = () => {
    lastOutputAtMs = Date.now();
  };
  // One loopback connection per request, never reused: a kept-alive socket that
  // llama-server closes just as the front reuses it ends that request with a 502
  // "socket hang up". An idle timeout below the engine's 5 s keep-alive made this
  // rarer but not gone on a loaded machine (timers fire late); a loopback
  // connect costs well under a millisecond next to a completion.
  const agent = new Agent({ keepAlive: false });
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const state = options.state();
    if (state === "draining" || state === "stopped" || state === "failed") {
      res.writeHead(503, {
        "retry-after": String(drainRetryAfterSeconds),
        "content-type": "application/json",
      });
      res.end(
        JSON.stringify({ error: { message: `replica stage is ${state}`, type: "unavailable", code: state } }),
      );
      return;
    }
    inFlight++;
    const entry: OpenRequest = { res, abortUpstream: () => {}, failed: false, streaming: false };
    open.add(entry);
    res.once("close", () => {
      inFlight--;
      open.delete(entry);
    });
    proxy(options, agent, req, entry, sawOutput);
  };
  const failInFlight = (reason: string) => {
    for (const entry of open) endWithError(entry, reason);
  };
  return {
    handle,
    inFlight: () => inFlight,
    lastOutputAtMs: () => lastOutputAtMs,
    failInFlight,
    close: () => agent.destroy(),
  };
}

/** The error a failed replica answers with, in OpenAI's shape. */
function replicaError(reason: string) {
  return { error: { message: `replica failed: ${reason}`, type: "server_error", code: "replica_failed" } };
}

function endWithError(entry: OpenRequest, reason: string): void {
  const { res } = entry;
  if (entry.failed || res.writableEnded) return;
  entry.failed = true;
  entry.abortUpstream();
  if (!res.headersSent) {
    res.writeHead(503, { "content-type": "application/json" });
    res.end(JSON.stringify(replicaError(reason)));
    return;
  }
  if (entry.streaming) {
    // An error event, as OpenAI-compatible servers send mid-stream (clients raise it), and no [DONE].
    res.end(`data: ${JSON.stringify(replicaError(reason))}\n\n`);
    return;
  }
  res.destroy(new Error(`replica failed: ${reason}`));
}

function proxy(
  options: HeadFrontOptions,
  agent: Agent,
  req: IncomingMessage,
  entry: OpenRequest,
  sawOutput: () => void,
): void {
  const { res } = entry;
  const path = req.url ?? "/";
  const inference = INFERENCE_PATHS.test(path);
  const parent = extractHttpHeaders(req.headers);
  const span = options.tracer.startSpan(
    `${req.method} ${path.split("?")[0]}`,
    { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method ?? "", "url.path": path } },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  const endMarks = inference
    ? context.with(ctx, () => markRequestOnStages(options.tracer, options.tunnels))
    : () => {};
  let finished = false;
  const finish = (status: number, error?: string) => {
    if (finished) return;
    finished = true;
    endMarks();
    span.setAttribute("http.response.status_code", status);
    if (error !== undefined || status >= 500)
      span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? "" });
    span.end();
  };
  const headers: Record<string, string | string[] | undefined> = { ...req.headers };
  delete headers.traceparent;
  delete headers.tracestate;
  const upstream = httpRequest(
    {
      agent,
      host: "127.0.0.1",
      port: options.enginePort,
      method: req.method,
      path,
      headers: { ...headers, ...injectHttpHeaders({}, ctx) },
    },
    (upstreamRes) => {
      if (entry.failed) {
        upstreamRes.destroy();
        return;
      }
      entry.streaming = String(upstreamRes.headers["content-type"] ?? "").includes("text/event-stream");
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.on("data", sawOutput);
      upstreamRes.pipe(res);
      entry.abortUpstream = () => {
        upstreamRes.unpipe(res);
        upstreamRes.destroy();
        upstream.destroy();
      };
      upstreamRes.once("end", () => finish(upstreamRes.statusCode ?? 502));
      // The engine died mid-response (e.g. restarted after a stage was lost):
      // end the client's response with an error too, or it would wait forever.
      upstreamRes.once("close", () => {
        if (entry.failed) {
          finish(503, "replica failed");
          return;
        }
        if (upstreamRes.complete) return;
        finish(502, "engine closed the response");
        res.destroy(new Error("engine closed the response"));
      });
    },
  );
  entry.abortUpstream = () => upstream.destroy();
  upstream.once("error", (err) => {
    if (entry.failed) {
      finish(503, "replica failed");
      return;
    }
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        error: { message: `engine unavailable: ${err.message}`, type: "upstream_unavailable" },
      }),
    );
    finish(502, err.message);
  });
  // A client that goes away cancels the engine's work.
  res.once("close", () => {
    if (!res.writableFinished) upstream.destroy();
    finish(res.statusCode, res.writableFinished ? undefined : "client disconnected");
  });
  req.pipe(upstream);
}
