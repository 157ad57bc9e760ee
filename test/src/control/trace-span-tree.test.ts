/**
 * One request through a 3-stage `strata up` (real llama.cpp, real gRPC tunnel,
 * real nats-server), traced end to end: the test starts the trace with an
 * in-memory exporter, the processes export theirs over OTLP to a receiver in
 * the test, and the span tree must read: test client → head request →
 * "tunnel to stage N" → "stage N" on the stage's own worker, for both remote
 * stages, with activation bytes moving through each tunnel during the request.
 */
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { freeLoopbackPort, setupTracing } from "@strata/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StrataRun } from "../e2e/strata-up.js";
import { pollUntil } from "../k8s/poll.js";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";

const receiver = new OtlpReceiver();
const exporter = new InMemorySpanExporter();
const tracing = setupTracing({ serviceName: "strata-test-client", exporter });
let run: StrataRun | undefined;
let endpoint: string;

beforeAll(async () => {
  binaries();
  const url = await receiver.start();
  // Inherited by `strata up` and every worker it starts.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url;
  process.env.OTEL_BSP_SCHEDULE_DELAY = "200";
  delete process.env.NATS_URL;
  run = new StrataRun(["up", "--stages", "3", "--port", String(await freeLoopbackPort())]);
  endpoint = await run.endpoint();
});

afterAll(async () => {
  await run?.interrupt();
  run?.forceCleanup();
  await receiver.close();
  await tracing.shutdown();
});

describe("a traced request through 3 stages", () => {
  it("forms one span tree from the client to every stage", async () => {
    const models = (await (await fetch(`${endpoint}/v1/models`)).json()) as { data: Array<{ id: string }> };
    const model = models.data[0]?.id;
    const root = tracing.tracer.startSpan("test client", { kind: SpanKind.CLIENT });
    const headers: Record<string, string> = { "content-type": "application/json" };
    propagation.inject(trace.setSpan(context.active(), root), headers);
    const res = await fetch(`${endpoint}/v1/completions`, {
      method: "POST",
      headers,
      body: JSON.stringify({ model, prompt: "Once upon a time", max_tokens: 4, temperature: 0 }),
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    root.end();
    const traceId = root.spanContext().traceId;
    const inTrace = (): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === traceId);

    const rootId = root.spanContext().spanId;
    // Complete: both stage spans are in, and every span's parent is the root or another span we have.
    await pollUntil("the whole tree exported", 30_000, async () => {
      const spans = inTrace();
      const ids = new Set(spans.map((s) => s.spanId));
      return (
        ["stage 1", "stage 2"].every((n) => spans.some((s) => s.name === n)) &&
        spans.every((s) => s.parentSpanId === rootId || ids.has(s.parentSpanId))
      );
    });
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ancestors = (s: ReceivedSpan): string[] => {
      const chain: string[] = [];
      for (let p = byId.get(s.parentSpanId); p; p = byId.get(p.parentSpanId)) chain.push(p.spanId);
      return chain;
    };
    const head = spans.find((s) => s.service === "strata-shard-worker" && s.name === "POST /v1/completions");
    expect(
      head,
      `head request span among ${spans.map((s) => `${s.service}:${s.name}`).join(", ")}`,
    ).toBeDefined();
    if (!head) return;
    expect(head.attributes["http.response.status_code"]).toBe(200);
    // The head's span descends from the test's root, through the gateway's spans.
    const top = byId.get(ancestors(head).at(-1) ?? head.spanId) ?? head;
    expect(top.parentSpanId).toBe(rootId);
    expect(ancestors(head).map((id) => byId.get(id)?.service)).toContain("strata-gateway");

    for (const stage of [1, 2]) {
      const tunnel = spans.find((s) => s.name === `tunnel to stage ${stage}`);
      const stageSpan = spans.find((s) => s.name === `stage ${stage}`);
      expect(tunnel?.parentSpanId).toBe(head.spanId);
      expect(stageSpan?.parentSpanId).toBe(tunnel?.spanId);
      expect(stageSpan?.service).toBe("strata-shard-worker");
      expect(ancestors(stageSpan as ReceivedSpan)).toContain(head.spanId);
      // Activations for this request crossed this stage's tunnel, both ways.
      expect(Number(tunnel?.attributes["strata.tunnel.bytes_sent"])).toBeGreaterThan(0);
      expect(Number(tunnel?.attributes["strata.tunnel.bytes_received"])).toBeGreaterThan(0);
    }
  });
});
