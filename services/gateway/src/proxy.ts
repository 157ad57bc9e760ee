import type { Agent, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Context, TextMapPropagator } from "@opentelemetry/api";
import type { Logger } from "@strata/runtime";
import type { GatewayConfig } from "./config.js";
import { engineError, MAX_ENGINE_ERROR_BYTES } from "./engine-error.js";
import type { GatewayMetrics } from "./metrics.js";
import { OpenAIError } from "./openai-error.js";
import type { ReplicaState, ReplicaTable } from "./replicas.js";
import { chooseReplica } from "./router.js";
import { ResponseObserver } from "./sse-observer.js";
import { callUpstream, UpstreamAttemptError } from "./upstream.js";
import type { ValidRequest } from "./validate.js";

/** Retries of one request on reused keep-alive sockets the head had already closed. */
const maxStaleSocketRetries = 4;

/** Response headers that belong to one hop and are not copied to the client. */
const hopHeaders = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

export interface ProxyDeps {
  readonly config: GatewayConfig;
  readonly table: ReplicaTable;
  readonly metrics: GatewayMetrics;
  readonly agent: Agent;
  readonly propagator: TextMapPropagator;
  readonly nowMs: () => number;
  readonly log: Logger;
}

export interface ProxyRequest {
  readonly valid: ValidRequest;
  readonly path: string;
  readonly body: Buffer;
  /** performance.now() when the request arrived. */
  readonly arrivedAt: number;
  /** performance.now() when its body had been read. */
  readonly receivedAt: number;
  /** Trace context of the gateway's span, injected into the head request. */
  readonly traceContext: Context;
  readonly res: ServerResponse;
}

/** Aborts the attempt in flight when the client goes away before the response ended. */
class ClientWatch {
  gone = false;
  private abortCurrent: (() => void) | undefined;

  constructor(res: ServerResponse) {
    res.on("close", () => {
      if (res.writableFinished) return;
      this.gone = true;
      this.abortCurrent?.();
    });
  }

  track(abort: (() => void) | undefined): void {
    this.abortCurrent = abort;
  }
}

/**
 * Forwards one validated completion request and streams the answer back.
 * Attempts go to distinct heads chosen by load; an attempt that fails before
 * the response starts (refused, reset, 502/503/504) moves on to the next head.
 * The engine's own error answers (any other 4xx or 5xx) are the client's
 * answer, in OpenAI's format, without trying another head. Once the response
 * has started it is never replayed: a head failing mid-stream ends the
 * client's stream.
 */
export async function proxyCompletion(deps: ProxyDeps, pr: ProxyRequest): Promise<number> {
  const { config, table, metrics } = deps;
  const model = pr.valid.model;
  const tried = new Set<string>();
  const watch = new ClientWatch(pr.res);
  const headers: OutgoingHttpHeaders = { "content-type": "application/json", accept: "*/*" };
  const carrier: Record<string, string> = {};
  deps.propagator.inject(pr.traceContext, carrier, {
    set: (c, k, v) => {
      c[k] = v;
    },
  });
  Object.assign(headers, carrier);
  let lastFailure = "no head was tried";
  let staleRetries = 0;

  // Bounded: each pass either adds a head to `tried` (at most maxAttempts) or uses a stale-socket retry.
  while (!watch.gone && tried.size < config.maxAttempts) {
    const decision = chooseReplica(table.forModel(model), tried, deps.nowMs(), config);
    if (decision.kind === "unknown-model") {
      throw new OpenAIError(404, "invalid_request_error", `The model '${model}' does not exist.`, {
        param: "model",
        code: "model_not_found",
      });
    }
    if (decision.kind === "overloaded") {
      throw new OpenAIError(
        429,
        "requests",
        `Every replica of '${model}' is at its queue limit; retry later.`,
        {
          code: "rate_limit_exceeded",
          headers: { "retry-after": String(config.retryAfterSeconds) },
        },
      );
    }
    if (decision.kind === "draining") {
      throw new OpenAIError(
        503,
        "server_error",
        `Every replica of '${model}' is draining or restarting; retry later.`,
        {
          code: "replicas_draining",
          headers: { "retry-after": String(config.retryAfterSeconds) },
        },
      );
    }
    if (decision.kind === "exhausted") break;
    const replica = decision.replica;
    const outcome = await attemptOn(deps, pr, replica, headers, watch);
    if (outcome.kind === "done") return outcome.status;
    if (outcome.kind === "client-gone") return 499;
    const err = outcome.error;
    lastFailure = `${replica.endpoint.id}: ${err.message}`;
    if (err.staleSocket && staleRetries < maxStaleSocketRetries) {
      // The head closed a kept-alive connection as we reused it, before answering. A
      // completion has no side effects, so the same head is asked again on another
      // connection (the agent drops the dead one) rather than counted as failed.
      staleRetries += 1;
      metrics.retries.inc({ model, reason: "stale_socket" });
      continue;
    }
    tried.add(replica.endpoint.id);
    if (err.reason === "connect") replica.ejectedUntilMs = deps.nowMs() + config.ejectMs;
    metrics.retries.inc({ model, reason: err.reason });
    deps.log.warn("head attempt failed; trying another", {
      model,
      replica: replica.endpoint.id,
      reason: err.reason,
      error: err.message,
    });
  }
  if (watch.gone) return 499;
  throw new OpenAIError(
    502,
    "server_error",
    `No replica of '${model}' could serve the request (${lastFailure}).`,
    {
      code: "upstream_unavailable",
    },
  );
}

type AttemptOutcome =
  | { kind: "done"; status: number }
  | { kind: "client-gone" }
  | { kind: "failed"; error: UpstreamAttemptError };

async function attemptOn(
  deps: ProxyDeps,
  pr: ProxyRequest,
  replica: ReplicaState,
  headers: OutgoingHttpHeaders,
  watch: ClientWatch,
): Promise<AttemptOutcome> {
  const { metrics } = deps;
  const id = replica.endpoint.id;
  replica.outstanding += 1;
  metrics.inFlight.set({ replica: id }, replica.outstanding);
  try {
    const sentAt = performance.now();
    const call = callUpstream(
      deps.agent,
      new URL(replica.endpoint.url),
      pr.path,
      headers,
      pr.body,
      deps.config.upstreamHeadersTimeoutMs,
    );
    watch.track(call.abort);
    let upstream: IncomingMessage;
    try {
      upstream = await call.response;
    } catch (err: unknown) {
      if (watch.gone) return { kind: "client-gone" };
      if (err instanceof UpstreamAttemptError) return { kind: "failed", error: err };
      throw err;
    }
    const status = upstream.statusCode ?? 502;
    if (status >= 400 && pr.valid.kind !== "native") {
      // llama.cpp's native endpoint keeps llama.cpp's own error format; the OpenAI ones get OpenAI's.
      const text = await readCapped(upstream, MAX_ENGINE_ERROR_BYTES);
      if (watch.gone) return { kind: "client-gone" };
      throw engineError(status, text, id);
    }
    // The gateway's own time: from having the whole request to sending it on (choosing a head,
    // earlier failed attempts included), plus relaying the head's headers. Receiving the body
    // is not counted: a client sending to the head directly spends that time too.
    const headersAt = performance.now();
    const relayed = await relay(
      deps,
      pr,
      id,
      upstream,
      watch,
      () => sentAt - pr.receivedAt + performance.now() - headersAt,
    );
    return watch.gone ? { kind: "client-gone" } : { kind: "done", status: relayed };
  } finally {
    watch.track(undefined);
    replica.outstanding -= 1;
    metrics.inFlight.set({ replica: id }, replica.outstanding);
  }
}

/** The start of a response body as text; the rest is read and dropped so the socket can be reused. */
function readCapped(upstream: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    upstream.on("data", (chunk: Buffer) => {
      if (kept >= maxBytes) return;
      chunks.push(chunk.subarray(0, maxBytes - kept));
      kept += Math.min(chunk.length, maxBytes - kept);
    });
    const done = () => resolve(Buffer.concat(chunks).toString("utf8"));
    upstream.once("end", done);
    upstream.once("error", done);
    upstream.once("close", done);
  });
}

/** Copies the head's response to the client as it arrives, observing token timing. */
function relay(
  deps: ProxyDeps,
  pr: ProxyRequest,
  replicaId: string,
  upstream: IncomingMessage,
  watch: ClientWatch,
  ownTimeMs: () => number,
): Promise<number> {
  const { res } = pr;
  const status = upstream.statusCode ?? 502;
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(upstream.headers)) {
    if (v !== undefined && !hopHeaders.has(k)) out[k] = v;
  }
  out["x-strata-replica"] = replicaId;
  const ownMs = ownTimeMs();
  deps.metrics.overhead.observe(ownMs / 1000);
  out["server-timing"] = `gateway;dur=${ownMs.toFixed(3)}`;
  res.writeHead(status, out);
  res.flushHeaders();
  const observer = status < 300 ? new ResponseObserver(pr.valid.stream, () => performance.now()) : undefined;
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (observer) record(deps, pr, observer);
      resolve(status);
    };
    watch.track(() => upstream.destroy());
    upstream.on("data", (chunk: Buffer) => {
      // Write first, observe after: the observer never delays a token.
      if (!res.write(chunk)) {
        upstream.pause();
        res.once("drain", () => upstream.resume());
      }
      observer?.push(chunk);
    });
    upstream.on("end", () => {
      res.end(finish);
    });
    upstream.on("error", () => {
      // The head failed mid-response: the client saw bytes already, so end its stream, no replay.
      res.destroy();
      finish();
    });
    upstream.on("close", () => {
      if (!upstream.complete) {
        res.destroy();
        finish();
      }
    });
    res.on("close", () => {
      if (watch.gone) {
        upstream.destroy();
        finish();
      }
    });
  });
}

function record(deps: ProxyDeps, pr: ProxyRequest, observer: ResponseObserver): void {
  const { metrics } = deps;
  const model = pr.valid.model;
  const stats = observer.finish();
  if (stats.firstTokenAtMs !== undefined) {
    metrics.timeToFirstToken.observe({ model }, (stats.firstTokenAtMs - pr.arrivedAt) / 1000);
  }
  for (const gap of stats.gapsMs) metrics.interTokenLatency.observe({ model }, gap / 1000);
  if (stats.inputTokens !== undefined) metrics.inputTokens.inc({ model }, stats.inputTokens);
  const out = stats.outputTokens ?? (stats.tokenEvents > 0 ? stats.tokenEvents : undefined);
  if (out !== undefined) metrics.outputTokens.inc({ model }, out);
}
