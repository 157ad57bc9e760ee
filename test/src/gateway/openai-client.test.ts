import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "@strata/runtime";
import { writeTinyLlamaGguf } from "@strata/shard-worker";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StrataRun } from "../e2e/strata-up.js";
import { binaries } from "../shard-worker/rpc-fixtures.js";

// The acceptance path a user takes: `strata up` runs a 3-stage pipeline of
// real llama.cpp processes with the gateway in front; the official OpenAI
// client talks to the endpoint `strata up` prints.

const MAX_TOKENS = 16;
const PROMPT = "Strata shards models across GPUs";

describe("OpenAI client through the gateway of `strata up` (3 stages, real llama.cpp)", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-gw-e2e-"));
  const modelPath = join(dir, "tiny.gguf");
  let run: StrataRun;
  let baseUrl: string;
  let client: OpenAI;
  let model: string;

  beforeAll(async () => {
    binaries();
    await writeTinyLlamaGguf(modelPath, { layers: 6 });
    run = new StrataRun([
      "up",
      "--model",
      modelPath,
      "--stages",
      "3",
      "--port",
      String(await freeLoopbackPort()),
    ]);
    baseUrl = await run.endpoint();
    client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "local-mode-needs-no-key", maxRetries: 0 });
    const models = await client.models.list();
    model = models.data[0]?.id ?? "";
    // The file's name without .gguf, never its path.
    expect(models.data.map((m) => m.id)).toEqual(["tiny"]);
  });

  afterAll(async () => {
    if (run) {
      const exit = await run.interrupt();
      expect(exit.code).toBe(0);
      expect(run.leftovers()).toEqual([]);
      run.forceCleanup();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("is served by the gateway", async () => {
    const res = await fetch(`${baseUrl}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model, prompt: PROMPT, max_tokens: 2, temperature: 0 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(/^gateway;dur=/);
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/strata_gateway_requests_total\{model="[^"]+",code="200"\} [1-9]/);
  });

  it("chat completion: streamed text equals non-streamed text at temperature 0", async () => {
    const messages = [{ role: "user" as const, content: PROMPT }];
    const whole = await client.chat.completions.create({
      model,
      messages,
      temperature: 0,
      max_tokens: MAX_TOKENS,
    });
    const text = whole.choices[0]?.message.content ?? "";
    expect(whole.usage?.completion_tokens).toBeGreaterThan(0);
    expect(text.length).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({
      model,
      messages,
      temperature: 0,
      max_tokens: MAX_TOKENS,
      stream: true,
    });
    let streamed = "";
    let chunks = 0;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      chunks += 1;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(streamed).toBe(text);
  });

  it("text completion: streamed text equals non-streamed text at temperature 0", async () => {
    const whole = await client.completions.create({
      model,
      prompt: PROMPT,
      temperature: 0,
      max_tokens: MAX_TOKENS,
    });
    const text = whole.choices[0]?.text ?? "";
    expect(text.length).toBeGreaterThan(0);
    const stream = await client.completions.create({
      model,
      prompt: PROMPT,
      temperature: 0,
      max_tokens: MAX_TOKENS,
      stream: true,
    });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? "";
    expect(streamed).toBe(text);
  });

  it("n up to the engine's 4 slots gives that many choices, streamed or not; n = 5 is a 400 naming n", async () => {
    const messages = [{ role: "user" as const, content: PROMPT }];
    const whole = await client.chat.completions.create({ model, messages, max_tokens: 4, n: 4 });
    expect(whole.choices.map((c) => c.index).sort()).toEqual([0, 1, 2, 3]);
    for (const c of whole.choices) expect(c.message.content?.length).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 4,
      n: 2,
      stream: true,
    });
    const text = new Map<number, string>();
    for await (const chunk of stream) {
      for (const c of chunk.choices) text.set(c.index, (text.get(c.index) ?? "") + (c.delta.content ?? ""));
    }
    expect([...text.keys()].sort()).toEqual([0, 1]);
    for (const t of text.values()) expect(t.length).toBeGreaterThan(0);

    const err = await client.chat.completions
      .create({ model, messages, max_tokens: 4, n: 5 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.param).toBe("n");
    expect(bad.message).toMatch(/Field 'n': Value must be between 1 <= value <= 4, but got 5/);
  });

  it("a message role outside OpenAI's is a 400 from the gateway, naming the message", async () => {
    const messages = [
      { role: "user", content: "hi" },
      { role: "wizard", content: PROMPT },
    ] as unknown as OpenAI.ChatCompletionMessageParam[];
    const err = await client.chat.completions.create({ model, messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.param).toBe("messages[1].role");
    expect(bad.code).toBe("invalid_value");
    expect(bad.message).toMatch(
      /"wizard" is not a role; supported roles are system, developer, user, assistant, tool/,
    );
    // Refused before any head saw it: the gateway's own answer carries no replica.
    expect(bad.headers.get("x-strata-replica")).toBeNull();
  });

  describe("bad input is answered in OpenAI's error format", () => {
    const raw = async (body: string) => {
      const res = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
    };
    const chat = (extra: Record<string, unknown>) =>
      JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra });

    it.each([
      { name: "malformed JSON", body: () => '{"model":', status: 400, param: null, code: "invalid_json" },
      {
        name: "unknown model",
        body: () => chat({ model: "no-such-model" }),
        status: 404,
        param: "model",
        code: "model_not_found",
      },
      {
        name: "bad parameter type",
        body: () => chat({ temperature: "warm" }),
        status: 400,
        param: "temperature",
        code: "invalid_type",
      },
      {
        name: "oversize body",
        body: () => chat({ padding: "x".repeat(5 * 1024 * 1024) }),
        status: 413,
        param: null,
        code: "request_too_large",
      },
    ])("$name → $status", async ({ body, status, param, code }) => {
      const res = await raw(body());
      expect(res.status).toBe(status);
      expect(Object.keys(res.body.error).sort()).toEqual(["code", "message", "param", "type"]);
      expect(res.body.error.param).toBe(param);
      expect(res.body.error.code).toBe(code);
      expect(typeof res.body.error.message).toBe("string");
    });

    it("the OpenAI client surfaces the gateway's error as an APIError", async () => {
      const err = await client.chat.completions
        .create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
    });
  });
});
