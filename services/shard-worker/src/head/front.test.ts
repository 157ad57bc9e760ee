import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import type { StageState } from "@strata/core";
import { afterEach, describe, expect, it } from "vitest";
import { createHeadFront } from "./front.js";

/**
 * The head front when its replica's engine group fails: a scripted engine
 * (it streams one event, then nothing, as vLLM does once a rank is gone) stands
 * in for vLLM, so the test controls exactly when the failure comes.
 */

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Streams one SSE event for `stream: true`, then hangs; never answers otherwise. */
function hangingEngine(): Server {
  return createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      if (!JSON.parse(body).stream) return;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"choices":[{"text":" once"}]}\n\n');
    });
  });
}

async function frontOn(enginePort: number, state: () => StageState) {
  const front = createHeadFront({ enginePort, tracer: trace.getTracer("test"), tunnels: [], state });
  const port = await listen(createServer(front.handle));
  return { front, url: `http://127.0.0.1:${port}/v1/completions` };
}

const post = (url: string, stream: boolean) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", prompt: "hi", stream }),
  });

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe("the head front when the replica fails", () => {
  it("ends a started stream with an OpenAI error event and no [DONE]", async () => {
    const enginePort = await listen(hangingEngine());
    const { front, url } = await frontOn(enginePort, () => "ready");
    const res = await post(url, true);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('" once"');
    front.failInFlight("stage 1 is gone");
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    const event = JSON.parse(rest.replace(/^data: /, "").trim());
    expect(event).toEqual({
      error: { message: "replica failed: stage 1 is gone", type: "server_error", code: "replica_failed" },
    });
    expect(rest).not.toContain("[DONE]");
    expect(front.inFlight()).toBe(0);
  });

  it("answers a request still waiting for the engine with 503 in OpenAI's error format", async () => {
    const enginePort = await listen(hangingEngine());
    const { front, url } = await frontOn(enginePort, () => "ready");
    const pending = post(url, false);
    await until(() => front.inFlight() === 1);
    front.failInFlight("vLLM on stage 0 exited (code 0)");
    const res = await pending;
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      error: { message: "replica failed: vLLM on stage 0 exited (code 0)", code: "replica_failed" },
    });
  });

  it("refuses new requests once the worker has failed", async () => {
    const enginePort = await listen(hangingEngine());
    const { url } = await frontOn(enginePort, () => "failed");
    const res = await post(url, false);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("failed");
  });
});
