import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Server as NetServer } from "node:net";
import { performance } from "node:perf_hooks";
import {
  type Context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { jsonLogger, type Logger } from "@strata/runtime";
import type { Registry } from "prom-client";
import { ApiKeyAuth } from "./auth.js";
import { readBody } from "./body.js";
import type { GatewayConfig } from "./config.js";
import { GatewayMetrics } from "./metrics.js";
import { OpenAIError, sendError } from "./openai-error.js";
import { type ProxyDeps, proxyCompletion } from "./proxy.js";
import { type ReplicaSource, ReplicaTable } from "./replicas.js";
import { type CompletionKind, type ValidRequest, validateCompletionBody } from "./validate.js";

export interface GatewayDeps {
  readonly config: GatewayConfig;
  /** Where `strata_gateway_*` metrics register; served on /metrics. */
  readonly registry: Registry;
  readonly sources: readonly ReplicaSource[];
  readonly tracer?: Tracer;
  /** Defaults to W3C trace context (traceparent/tracestate). */
  readonly propagator?: TextMapPropagator;
  readonly log?: Logger;
  readonly nowMs?: () => number;
  /**
   * A listening socket to take over instead of binding host:port (`strata up`
   * holds its port from the start, so the minutes spent loading a model cannot
   * lose it to another process).
   */
  readonly listenOn?: NetServer;
}

/** A refused request body up to this size is read and discarded rather than cut off. */
const maxDrainBytes = 64 * 1024 * 1024;

const completionPaths: Readonly<Record<string, CompletionKind>> = {
  "/v1/chat/completions": "chat",
  "/v1/completions": "text",
  "/completion": "native",
};

/**
 * The OpenAI-compatible gateway: answers /v1/models itself and forwards
 * completions to replica heads that discovery sources keep current.
 */
export class Gateway {
  readonly table: ReplicaTable;
  readonly metrics: GatewayMetrics;
  private readonly deps: GatewayDeps;
  private readonly auth: ApiKeyAuth | undefined;
  private readonly agent: Agent;
  private readonly tracer: Tracer;
  private readonly proxyDeps: ProxyDeps;
  private readonly server: Server;

  constructor(deps: GatewayDeps) {
    this.deps = deps;
    this.metrics = new GatewayMetrics(deps.registry);
    this.table = new ReplicaTable(() => this.countReplicas());
    this.auth = deps.config.apiKeys ? new ApiKeyAuth(deps.config.apiKeys) : undefined;
    // Keep-alive sockets to heads; closed after 4 s idle, below llama-server's 5 s keep-alive.
    this.agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, timeout: 4_000 });
    this.tracer = deps.tracer ?? trace.getTracer("strata-gateway");
    this.proxyDeps = {
      config: deps.config,
      table: this.table,
      metrics: this.metrics,
      agent: this.agent,
      propagator: deps.propagator ?? new W3CTraceContextPropagator(),
      nowMs: deps.nowMs ?? Date.now,
      log: deps.log ?? jsonLogger("gateway"),
    };
    this.server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.proxyDeps.log.error("request failed", {
          error: err instanceof Error ? err.message : String(err),
        });
        sendError(res, new OpenAIError(500, "server_error", "The gateway failed to handle the request."));
      });
    });
  }

  /** Starts discovery, then listens. Resolves with the base URL. */
  async start(): Promise<string> {
    for (const source of this.deps.sources) await source.start(this.table);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      const listening = () => {
        this.server.off("error", reject);
        resolve();
      };
      if (this.deps.listenOn) this.server.listen(this.deps.listenOn, listening);
      else this.server.listen(this.deps.config.port, this.deps.config.host, listening);
    });
    return this.url();
  }

  url(): string {
    const addr = this.server.address() as AddressInfo;
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  async stop(): Promise<void> {
    for (const source of this.deps.sources) await source.stop();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.agent.destroy();
  }

  private countReplicas(): void {
    this.metrics.replicas.reset();
    for (const model of this.table.models()) {
      this.metrics.replicas.set({ model }, this.table.forModel(model).length);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = performance.now();
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const method = req.method ?? "GET";
    // Listening implies discovery has started (start() waits for every source): live and ready.
    if (method === "GET" && (path === "/health" || path === "/healthz" || path === "/readyz")) {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      return;
    }
    if (method === "GET" && path === "/metrics") {
      const text = await this.deps.registry.metrics();
      res.writeHead(200, { "content-type": this.deps.registry.contentType }).end(text);
      return;
    }
    const kind = completionPaths[path];
    let model = "";
    let code = 200;
    try {
      this.auth?.check(req.headers);
      if (method === "GET" && path === "/v1/models") {
        this.listModels(res);
        return;
      }
      if (kind === undefined || method !== "POST") {
        throw new OpenAIError(404, "invalid_request_error", `Invalid URL (${method} ${path})`);
      }
      const body = await readBody(req, this.deps.config.maxBodyBytes, this.deps.config.bodyTimeoutMs);
      const receivedAt = performance.now();
      const valid = this.withModel(validateCompletionBody(kind, body));
      model = valid.model;
      code = await this.traced(req, path, model, (traceContext) =>
        proxyCompletion(this.proxyDeps, { valid, path, body, arrivedAt, receivedAt, traceContext, res }),
      );
    } catch (err: unknown) {
      if (!(err instanceof OpenAIError)) throw err;
      code = err.status;
      if (!req.complete) {
        // A client still sending a body we refused: let a bounded one finish (discarded) so it
        // reads our answer instead of failing on a closed socket; close on anything larger.
        const declared = Number(req.headers["content-length"]);
        if (Number.isFinite(declared) && declared <= maxDrainBytes) req.resume();
        else res.setHeader("connection", "close");
      }
      sendError(res, err);
    } finally {
      if (kind !== undefined) {
        const label = this.table.forModel(model).length > 0 ? model : "";
        this.metrics.requests.inc({ model: label, code: String(code) });
        this.metrics.requestDuration.observe({ model: label }, (performance.now() - arrivedAt) / 1000);
      }
    }
  }

  /** A native request without `model` goes to the only model served; with several, the client must say. */
  private withModel(valid: ValidRequest): ValidRequest {
    if (valid.model !== "") return valid;
    const models = this.table.models();
    if (models.length === 1 && models[0]) return { ...valid, model: models[0] };
    throw new OpenAIError(400, "invalid_request_error", "you must provide a model parameter", {
      param: "model",
    });
  }

  private listModels(res: ServerResponse): void {
    const data = this.table.models().map((id) => ({ id, object: "model", created: 0, owned_by: "strata" }));
    const body = JSON.stringify({ object: "list", data });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  /** Runs `fn` inside a server span that continues the client's trace and is propagated to the head. */
  private async traced(
    req: IncomingMessage,
    path: string,
    model: string,
    fn: (ctx: Context) => Promise<number>,
  ): Promise<number> {
    const fromClient = this.proxyDeps.propagator.extract(ROOT_CONTEXT, req.headers, {
      get: (h, k) => h[k],
      keys: (h) => Object.keys(h),
    });
    const span = this.tracer.startSpan(
      `POST ${path}`,
      { kind: SpanKind.SERVER, attributes: { "gen_ai.request.model": model, "http.route": path } },
      fromClient,
    );
    try {
      const status = await fn(trace.setSpan(fromClient, span));
      span.setAttribute("http.response.status_code", status);
      return status;
    } catch (err: unknown) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      span.end();
    }
  }
}
