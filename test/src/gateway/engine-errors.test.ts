import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningGateway, runGateway } from "@strata/gateway";
import { silentLogger } from "@strata/runtime";
import { writeTinyLlamaGguf } from "@strata/shard-worker";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlamaHead, startLlamaHead } from "./llama-heads.js";

// Two replicas (real llama-server processes) behind the gateway, asked
// something the engine refuses the same way on every replica: llama-server
// answers an image part sent to a text-only model with a 500 of its own.
// The client gets that answer, once, not a 502 after trying every replica.

const MODEL = "tiny";

describe("an engine's own error through the gateway (two real llama-server replicas)", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-gw-engine-error-"));
  const heads: LlamaHead[] = [];
  let gateway: RunningGateway;

  beforeAll(async () => {
    const modelPath = join(dir, "tiny.gguf");
    await writeTinyLlamaGguf(modelPath, { layers: 2 });
    heads.push(await startLlamaHead(modelPath, MODEL), await startLlamaHead(modelPath, MODEL));
    gateway = await runGateway({
      port: 0,
      upstreams: heads.map((h, i) => ({ id: `tiny/${i}`, model: MODEL, url: h.url })),
      log: silentLogger,
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    for (const h of heads) await h.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reaches the OpenAI client with the engine's status and message, after one attempt", async () => {
    const image = { type: "image_url" as const, image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } };
    const direct = await fetch(`${heads[0]?.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: [image] }], max_tokens: 2 }),
    });
    expect(direct.status).toBe(500);
    const engineMessage = ((await direct.json()) as { error: { message: string } }).error.message;
    expect(engineMessage).toMatch(/image input is not supported/);

    // The SDK's default retries stay on: the gateway's x-should-retry: false keeps it to one request.
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "none" });
    const err = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: [image] }], max_tokens: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    const apiError = err as InstanceType<typeof OpenAI.InternalServerError>;
    expect(apiError.status).toBe(500);
    expect(apiError.error).toMatchObject({ message: engineMessage, type: "server_error" });
    expect(apiError.headers.get("x-strata-replica")).toMatch(/^tiny\/[01]$/);

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/strata_gateway_requests_total\{model="tiny",code="500"\} 1\n/);
    expect(metrics).not.toMatch(/strata_gateway_retries_total\{/);
    expect(metrics).not.toMatch(/code="502"/);
  });
});
