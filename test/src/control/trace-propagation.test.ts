/**
 * Trace context across the three carriers, in one process with an in-memory
 * exporter: HTTP into the head's request path (mounted on a plain HTTP server,
 * as the worker mounts it on its port), the tunnel's gRPC metadata (real
 * TunnelServer/TunnelListener over loopback) to a stage, and NATS headers on a
 * lifecycle event (real nats-server). The engine behind the front is a small
 * HTTP server standing in for llama-server here; the end-to-end test with real
 * llama.cpp is trace-span-tree.test.ts.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { LIFECYCLE_CONSUMERS } from "@strata/core";
import {
  connectNats,
  consumeLifecycleEvents,
  createMetricsRegistry,
  freeLoopbackPort,
  InvalidMessages,
  LifecycleOutbox,
  NatsServerProcess,
  setupTracing,
  type Tracing,
} from "@strata/runtime";
import {
  createHeadFront,
  type HeadFront,
  handleRequestMark,
  TunnelListener,
  TunnelServer,
} from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../k8s/poll.js";
import { memoryLogger } from "./fixtures.js";

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let engine: Server;
let tunnelServer: TunnelServer;
let listener: TunnelListener;
let front: HeadFront;
let frontServer: Server;
let frontPort: number;
let state: "ready" | "draining" = "ready";
const engineSawTraceparent: string[] = [];

beforeAll(async () => {
  tracing = setupTracing({ serviceName: "trace-test", exporter });
  engine = createServer((req, res) => {
    engineSawTraceparent.push(String(req.headers.traceparent));
    req.resume();
    req.once("end", () => setTimeout(() => res.end('{"content":"ok"}'), 50));
  });
  await new Promise<void>((r) => engine.listen(0, "127.0.0.1", () => r()));
  tunnelServer = new TunnelServer({
    enginePort: await freeLoopbackPort(),
    bind: "127.0.0.1:0",
    token: "secret",
    observer: { requestMark: (call) => handleRequestMark(tracing.tracer, 1, call) },
  });
  const tunnelPort = await tunnelServer.start();
  listener = new TunnelListener({ address: `127.0.0.1:${tunnelPort}`, token: "secret" });
  front = createHeadFront({
    enginePort: (engine.address() as AddressInfo).port,
    tracer: tracing.tracer,
    tunnels: [{ stage: 1, openStream: (md) => listener.openStream(md) }],
    state: () => state,
  });
  frontServer = createServer((req, res) => front.handle(req, res));
  await new Promise<void>((r) => frontServer.listen(0, "127.0.0.1", () => r()));
  frontPort = (frontServer.address() as AddressInfo).port;
});

afterAll(async () => {
  front?.close();
  frontServer?.closeAllConnections();
  await new Promise((r) => frontServer?.close(r));
  await listener?.close();
  await tunnelServer?.stop();
  await new Promise((r) => engine?.close(r));
  await tracing?.shutdown();
});

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span "${name}" among ${spans.map((s) => s.name).join(", ")}`);
  return span;
}

describe("trace context propagation", () => {
  it("HTTP → head front → gRPC metadata → stage span, all in the caller's trace", async () => {
    exporter.reset();
    const root = tracing.tracer.startSpan("client", { kind: SpanKind.CLIENT });
    const headers: Record<string, string> = { "content-type": "application/json" };
    propagation.inject(trace.setSpan(context.active(), root), headers);
    const res = await fetch(`http://127.0.0.1:${frontPort}/v1/completions`, {
      method: "POST",
      headers,
      body: JSON.stringify({ prompt: "hi", max_tokens: 1 }),
    });
    expect(res.status).toBe(200);
    await res.text();
    root.end();

    await pollUntil("stage span exported", 5_000, async () =>
      exporter.getFinishedSpans().some((s) => s.name === "stage 1"),
    );
    const spans = exporter.getFinishedSpans();
    const request = byName(spans, "POST /v1/completions");
    const tunnel = byName(spans, "tunnel to stage 1");
    const stage = byName(spans, "stage 1");
    const traceId = root.spanContext().traceId;
    for (const s of [request, tunnel, stage]) expect(s.spanContext().traceId).toBe(traceId);
    expect(request.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(tunnel.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(stage.parentSpanContext?.spanId).toBe(tunnel.spanContext().spanId);
    expect(stage.kind).toBe(SpanKind.SERVER);
    // llama-server is handed the request span as its parent.
    expect(engineSawTraceparent.at(-1)).toContain(request.spanContext().spanId);
  });

  it("refuses new requests with 503 while draining", async () => {
    state = "draining";
    try {
      const res = await fetch(`http://127.0.0.1:${frontPort}/v1/completions`, {
        method: "POST",
        body: "{}",
      });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      await res.text();
    } finally {
      state = "ready";
    }
  });

  it("NATS headers carry the trace to a lifecycle event's consumer", async () => {
    const server = await NatsServerProcess.start();
    const logger = memoryLogger();
    const nc = await connectNats({ servers: server.url, name: "trace-test", logger });
    try {
      const registry = createMetricsRegistry({ service: "test", defaults: false });
      const seen: string[] = [];
      const consumer = consumeLifecycleEvents({
        nc,
        durable: LIFECYCLE_CONSUMERS.controller,
        logger,
        registry,
        invalid: new InvalidMessages({ logger, registry }),
        onEvent: () => {
          seen.push(trace.getSpanContext(context.active())?.traceId ?? "none");
        },
      });
      const outbox = new LifecycleOutbox({ nc, logger, registry });
      const cause = tracing.tracer.startSpan("drain request");
      context.with(trace.setSpan(context.active(), cause), () =>
        outbox.publish({ deployment: "traced", replica: 0, stage: 0, kind: "draining" }),
      );
      cause.end();
      await outbox.flush();
      await pollUntil("event consumed", 10_000, async () => seen.length === 1);
      expect(seen).toEqual([cause.spanContext().traceId]);
      await consumer.stop();
    } finally {
      await nc.close();
      await server.stop();
    }
  });
});
