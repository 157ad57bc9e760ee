import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "@strata/runtime";
import { strataCacheRoot, writeTinyLlamaGguf } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { waitFor } from "./processes.js";
import { type CompletionTokens, completeGreedy, StrataRun } from "./strata-up.js";

const PROMPTS = ["The quick brown fox", "Once upon a time", "strata shards models", "0123456789"];
const TOKENS_PER_PROMPT = 24;

/** Layers per stage as llama.cpp logged them ("load_tensors: layer N assigned to device D"). */
function engineLayersByStage(log: string, numLayers: number): Map<number, number[]> {
  const byStage = new Map<number, number[]>();
  for (const match of log.matchAll(/load_tensors: layer\s+(\d+) assigned to device (\S+?),/g)) {
    const layer = Number(match[1]);
    const device = match[2] ?? "";
    if (layer >= numLayers) continue; // the output layer
    // --rpc lists stage 1..N in order, so RPC<i> is stage i+1; the head's CPU is stage 0.
    const rpc = /^RPC(\d+)/.exec(device);
    const stage = device === "CPU" ? 0 : rpc ? Number(rpc[1]) + 1 : -1;
    byStage.set(stage, [...(byStage.get(stage) ?? []), layer]);
  }
  return byStage;
}

/** The plan `strata up` printed: "stage 0 0-3, stage 1 4-7, …". */
function plannedRanges(log: string): Map<number, [number, number]> {
  const line = /layers over \d+ stage\(s\): (.*)/.exec(log)?.[1] ?? "";
  const ranges = new Map<number, [number, number]>();
  for (const m of line.matchAll(/stage (\d+) (\d+)-(\d+)/g))
    ranges.set(Number(m[1]), [Number(m[2]), Number(m[3])]);
  return ranges;
}

/** The error another process gets binding 127.0.0.1:port, or undefined when it could. */
async function bindError(port: number): Promise<string | undefined> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(undefined)));
  });
}

async function completions(args: string[]): Promise<{ results: CompletionTokens[]; run: StrataRun }> {
  const run = new StrataRun(args);
  try {
    const url = await run.endpoint();
    const results: CompletionTokens[] = [];
    for (const prompt of PROMPTS) results.push(await completeGreedy(url, prompt, TOKENS_PER_PROMPT));
    const exit = await run.interrupt();
    expect(exit.code).toBe(0);
    expect(run.leftovers()).toEqual([]);
    return { results, run };
  } finally {
    run.forceCleanup();
  }
}

describe("strata up (real llama.cpp processes, activations over the gRPC tunnel)", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-e2e-up-"));
  const model = join(dir, "tiny.gguf");
  const layers = 12;

  beforeAll(async () => {
    binaries();
    await writeTinyLlamaGguf(model, { layers });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives exactly the same greedy tokens with 3 stages as with 1, each stage holding its planned layers", async () => {
    const single = await completions([
      "up",
      "--model",
      model,
      "--stages",
      "1",
      "--port",
      String(await freeLoopbackPort()),
    ]);
    const split = await completions([
      "up",
      "--model",
      model,
      "--stages",
      "3",
      "--port",
      String(await freeLoopbackPort()),
      "--verbose",
    ]);

    // The model is not degenerate: different prompts continue differently.
    expect(new Set(single.results.map((r) => r.tokens.join(","))).size).toBeGreaterThan(1);
    for (const [i, r] of single.results.entries()) {
      expect(r.tokens).toHaveLength(TOKENS_PER_PROMPT);
      expect(split.results[i]?.tokens).toEqual(r.tokens);
    }

    // Placement, read from llama.cpp's own load log, matches the printed plan.
    const plan = plannedRanges(split.run.stderr);
    expect([...plan.keys()]).toEqual([0, 1, 2]);
    const held = engineLayersByStage(split.run.stderr, layers);
    for (const [stage, [first, last]] of plan) {
      const expected = Array.from({ length: last - first + 1 }, (_, i) => first + i);
      expect([...new Set(held.get(stage))].sort((a, b) => a - b)).toEqual(expected);
    }
    expect(held.has(-1)).toBe(false);

    // Stage tensor caches are on by default, in a folder of the run's own that is gone after it.
    expect(split.run.stderr).toMatch(/stage 1 ready: .*tensor cache/);
    expect(split.run.stderr).toMatch(/stage 2 ready: .*tensor cache/);
    expect(existsSync(join(strataCacheRoot(), "rpc-cache", `run-${split.run.pid}`))).toBe(false);
  }, 480_000);

  it("holds its --port from the start, while the stages load, and serves on it", async () => {
    const port = await freeLoopbackPort();
    const run = new StrataRun(["up", "--model", model, "--stages", "2", "--port", String(port)]);
    try {
      // The plan line comes before any engine starts.
      await waitFor("the plan line", () => run.stderr.includes("layers over") || undefined, 60_000);
      expect(await bindError(port)).toBe("EADDRINUSE");
      const url = await run.endpoint();
      expect(new URL(url).port).toBe(String(port));
      expect((await completeGreedy(url, PROMPTS[0] ?? "", 4)).tokens).toHaveLength(4);
      const exit = await run.interrupt();
      expect(exit.code).toBe(0);
      expect(run.leftovers()).toEqual([]);
      // Released at exit.
      expect(await bindError(port)).toBeUndefined();
    } finally {
      run.forceCleanup();
    }
  }, 240_000);
});
