import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gateway, type GatewayOptions, resolveGatewayConfig, StaticReplicaSource } from "@strata/gateway";
import { silentLogger } from "@strata/runtime";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { ScriptedHead } from "./scripted-head.js";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function head(): Promise<ScriptedHead> {
  const h = new ScriptedHead();
  await h.start();
  stops.push(() => h.stop());
  return h;
}

async function gatewayFor(urls: string[], options: GatewayOptions = {}) {
  const source = new StaticReplicaSource(urls.map((url, i) => ({ id: `m/${i}`, model: "m", url })));
  const registry = new Registry();
  const gw = new Gateway({
    config: resolveGatewayConfig({ port: 0, ...options }),
    registry,
    sources: [source],
    log: silentLogger,
  });
  const url = await gw.start();
  stops.push(() => gw.stop());
  return { gw, url, registry, source };
}

const chat = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], ...extra });

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function openaiError(text: string): Record<string, unknown> {
  const parsed = JSON.parse(text) as { error: Record<string, unknown> };
  expect(Object.keys(parsed.error).sort()).toEqual(["code", "message", "param", "type"]);
  return parsed.error;
}

describe("gateway HTTP surface", () => {
  it("lists served models and forwards a completion", async () => {
    const h = await head();
    const { url } = await gatewayFor([h.url()]);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(["m"]);
    const res = await post(url, chat());
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).usage.completion_tokens).toBe(4);
    expect(h.requests).toHaveLength(1);
  });

  it.each([
    { name: "malformed JSON", body: "{oops", status: 400, param: null, code: "invalid_json" },
    {
      name: "unknown model",
      body: chat({ model: "nope" }),
      status: 404,
      param: "model",
      code: "model_not_found",
    },
    { name: "bad parameter type", body: chat({ max_tokens: "ten" }), status: 400, param: "max_tokens" },
    {
      name: "oversize body",
      body: chat({ pad: "x".repeat(2 * 1024 * 1024) }),
      status: 413,
      param: null,
      code: "request_too_large",
    },
  ])("rejects $name with $status in OpenAI's error format", async ({ body, status, param, code }) => {
    const h = await head();
    const { url } = await gatewayFor([h.url()], { maxBodyBytes: 4096 });
    const res = await post(url, body);
    expect(res.status).toBe(status);
    const err = openaiError(res.text);
    expect(err.param).toBe(param);
    if (code !== undefined) expect(err.code).toBe(code);
    expect(h.requests).toHaveLength(0);
  });

  it("forwards llama.cpp's native /completion to the only model served", async () => {
    const h = await head();
    const { url, source } = await gatewayFor([h.url()]);
    const native = (body: string) => fetch(`${url}/completion`, { method: "POST", body });
    const ok = await native('{"prompt":"hi","n_predict":4}');
    expect(ok.status).toBe(200);
    expect(h.requests[0]?.path).toBe("/completion");
    source.add({ id: "other/0", model: "other", url: h.url() });
    const ambiguous = await native('{"prompt":"hi"}');
    expect(ambiguous.status).toBe(400);
    expect(openaiError(await ambiguous.text()).param).toBe("model");
    expect(h.requests).toHaveLength(1);
  });

  it("answers probes, and unknown paths with 404 in OpenAI's error format", async () => {
    const { url } = await gatewayFor([]);
    for (const probe of ["/healthz", "/readyz"]) expect((await fetch(`${url}${probe}`)).status).toBe(200);
    const res = await fetch(`${url}/v1/engines`);
    expect(res.status).toBe(404);
    expect(openaiError(await res.text()).type).toBe("invalid_request_error");
  });

  it("requires a known API key when keys are configured", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-gw-"));
    const keys = join(dir, "keys");
    writeFileSync(keys, "# keys\nsk-good-key-1234\n");
    const h = await head();
    const { url } = await gatewayFor([h.url()], { apiKeysFile: keys });
    const missing = await post(url, chat());
    expect(missing.status).toBe(401);
    expect(openaiError(missing.text).code).toBe("missing_api_key");
    const wrong = await post(url, chat(), { authorization: "Bearer sk-bad-key-9999" });
    expect(wrong.status).toBe(401);
    expect(openaiError(wrong.text).code).toBe("invalid_api_key");
    const models = await fetch(`${url}/v1/models`);
    expect(models.status).toBe(401);
    const ok = await post(url, chat(), { authorization: "Bearer sk-good-key-1234" });
    expect(ok.status).toBe(200);
    expect(h.requests).toHaveLength(1);
    expect(h.requests[0]?.headers.authorization).toBeUndefined();
  });
});

describe("gateway routing and failure handling", () => {
  it("skips a head that refuses the connection and one that answers 503", async () => {
    const dead = await head();
    const deadUrl = dead.url();
    await dead.stop();
    const loading = await head();
    loading.behaviour = "fail-503";
    const good = await head();
    const { url, registry } = await gatewayFor([deadUrl, loading.url(), good.url()], { maxAttempts: 3 });
    // Ties between equally idle heads are broken at random, so keep sending
    // (bounded) until the router has run into both bad heads at least once.
    const connectRetried = /strata_gateway_retries_total\{model="m",reason="connect"\} [1-9]/;
    const statusRetried = /strata_gateway_retries_total\{model="m",reason="status_5xx"\} [1-9]/;
    let sent = 0;
    let metrics = "";
    while (sent < 40 && !(connectRetried.test(metrics) && statusRetried.test(metrics))) {
      const res = await post(url, chat());
      expect(res.status).toBe(200);
      sent++;
      metrics = await registry.metrics();
    }
    expect(good.requests).toHaveLength(sent);
    expect(metrics).toMatch(connectRetried);
    expect(metrics).toMatch(statusRetried);
  });

  it("answers 502 in OpenAI's format when every head fails", async () => {
    const a = await head();
    a.behaviour = "fail-503";
    const { url } = await gatewayFor([a.url()]);
    const res = await post(url, chat());
    expect(res.status).toBe(502);
    expect(openaiError(res.text).code).toBe("upstream_unavailable");
  });

  it("passes the engine's own 500 to the client once, with its message, without trying another head", async () => {
    const a = await head();
    const b = await head();
    a.behaviour = "engine-error-500";
    b.behaviour = "engine-error-500";
    const { url, registry } = await gatewayFor([a.url(), b.url()], { maxAttempts: 3 });
    const res = await post(url, chat());
    expect(res.status).toBe(500);
    expect(res.headers.get("x-should-retry")).toBe("false");
    const err = openaiError(res.text);
    expect(err.message).toBe("[json.exception.type_error.316] invalid UTF-8 byte at index 3: 0xB7");
    expect(err.type).toBe("server_error");
    expect(a.requests.length + b.requests.length).toBe(1);
    const metrics = await registry.metrics();
    expect(metrics).not.toMatch(/strata_gateway_retries_total\{/);
    expect(metrics).toMatch(/strata_gateway_requests_total\{model="m",code="500"\} 1/);
  });

  it("never replays a stream that already sent bytes", async () => {
    const a = await head();
    const b = await head();
    a.behaviour = "die-mid-stream";
    b.behaviour = "die-mid-stream";
    const { url } = await gatewayFor([a.url(), b.url()]);
    const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", body: chat({ stream: true }) });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(a.requests.length + b.requests.length).toBe(1);
  });

  it("cancels the head's request when the client disconnects", async () => {
    const a = await head();
    a.behaviour = "stall";
    const { url, gw } = await gatewayFor([a.url()]);
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      body: chat({ stream: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    controller.abort();
    await expect(a.requests[0]?.closed).resolves.toBe("aborted");
    await expect.poll(() => gw.table.get("m/0")?.outstanding).toBe(0);
  });

  it("answers 429 with Retry-After when every head's queue is full", async () => {
    const a = await head();
    a.behaviour = "stall";
    const { url } = await gatewayFor([a.url()], { maxQueuePerReplica: 1, retryAfterSeconds: 2 });
    const controller = new AbortController();
    const first = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      body: chat({ stream: true }),
      signal: controller.signal,
    });
    expect(first.status).toBe(200);
    const second = await post(url, chat());
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("2");
    expect(openaiError(second.text).code).toBe("rate_limit_exceeded");
    controller.abort();
  });

  it("streams tokens, propagates the trace context and records token metrics", async () => {
    const a = await head();
    const { url, registry } = await gatewayFor([a.url()]);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: chat({ stream: true }),
    });
    const text = await res.text();
    expect(text.match(/"content":"t"/g)).toHaveLength(4);
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    expect(a.requests[0]?.headers.traceparent).toContain(traceId);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/strata_gateway_output_tokens_total\{model="m"\} 4/);
    expect(metrics).toMatch(/strata_gateway_input_tokens_total\{model="m"\} 3/);
    expect(metrics).toMatch(/strata_gateway_inter_token_latency_seconds_count\{model="m"\} 3/);
    expect(metrics).toMatch(/strata_gateway_requests_total\{model="m",code="200"\} 1/);
  });

  it("routes to a replica added at run time and stops using a removed one", async () => {
    const a = await head();
    const b = await head();
    const { url, source } = await gatewayFor([a.url()]);
    source.add({ id: "m/b", model: "m", url: b.url() });
    source.remove("m/0");
    expect((await post(url, chat())).status).toBe(200);
    expect(a.requests).toHaveLength(0);
    expect(b.requests).toHaveLength(1);
  });
});
