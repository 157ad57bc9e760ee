import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { smollm2Path } from "../shard-worker/real-model.js";
import { fixtureDir, strata, TINY_CONFIG, tinyGgufHeader } from "./plan-fixtures.js";

// `strata plan` as a user runs it: the built CLI in a child process.
const fixtures = fixtureDir();
afterAll(() => fixtures.cleanup());

async function planJson(...args: string[]) {
  const r = await strata("plan", "--json", ...args);
  return { ...r, plan: JSON.parse(r.stdout) };
}

describe("strata plan", () => {
  it("405B bf16 on one node of 8×H100: exit 2, one line with weights vs budget and the smallest change", async () => {
    const r = await strata(
      "plan",
      "--model",
      "llama-3.1-405b",
      "--gpu",
      "h100-sxm-80g",
      "--nodes",
      "1",
      "--dtype",
      "bf16",
    );
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^strata: does not fit: llama-3\.1-405b weights in bf16 take 811\.7 GB/);
    expect(lines[0]).toContain("budget of 576.0 GB");
    expect(lines[0]).toContain("--dtype fp8 (tp=8 pp=1 dp=1)");
    expect(lines[0]).toContain("--nodes 2 (tp=8 pp=2 dp=1)");
    expect(r.stdout).toContain("DOES NOT FIT");
  });

  it("405B bf16 on two nodes: the issue's example prints a table; --json gives tp=8 pp=2 and 63-layer stages", async () => {
    const args = [
      "--model",
      "llama-3.1-405b",
      "--gpu",
      "h100-sxm-80g",
      "--nodes",
      "2",
      "--gpus-per-node",
      "8",
    ];
    const table = await strata("plan", ...args, "--dtype", "bf16", "--max-model-len", "8192");
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/fits: tp=8 pp=2 dp=1/);
    expect(table.stdout).toMatch(/^0\s+0-62\s+node-0\s+8\s+h100-sxm-80g/m);
    expect(table.stdout).toMatch(/^1\s+63-125\s+node-1\s+8\s+h100-sxm-80g/m);
    const { status, plan } = await planJson(...args);
    expect(status).toBe(0);
    expect(plan).toMatchObject({
      version: 2,
      fits: true,
      tp: 8,
      pp: 2,
      dp: 1,
      stages: [
        { index: 0, layers: { first: 0, last: 62 }, nodes: ["node-0"], gpus: 8 },
        { index: 1, layers: { first: 63, last: 125 }, nodes: ["node-1"], gpus: 8 },
      ],
    });
    for (const key of ["weightsBytes", "kvCacheBytes", "activationBytes", "overheadBytes", "budgetBytes"]) {
      expect(plan.memoryPerGpu[key]).toEqual(expect.any(Number));
    }
    expect(plan.kvCacheTokens).toBeGreaterThan(0);
    expect(plan.maxConcurrentSequences).toBeGreaterThan(0);
    expect(plan.notes).toEqual(expect.any(Array));
    expect(plan.candidates).toHaveLength(2);
  });

  it("405B fp8: tp=8 pp=1 on 8×H100, and more KV-cache tokens on 8×H200", async () => {
    const h100 = (await planJson("--model", "llama-3.1-405b", "--gpu", "h100-sxm-80g", "--dtype", "fp8"))
      .plan;
    const h200 = (await planJson("--model", "llama-3.1-405b", "--gpu", "h200-141g", "--dtype", "fp8")).plan;
    expect(h100).toMatchObject({ fits: true, tp: 8, pp: 1 });
    expect(h200.fits).toBe(true);
    expect(h200.kvCacheTokens).toBeGreaterThan(h100.kvCacheTokens);
  });

  it("70B bf16 on 8×H100 fits; 8B bf16 on one L40S fits with tp=1", async () => {
    expect((await planJson("--model", "llama-3.1-70b", "--gpu", "h100-sxm-80g")).plan.fits).toBe(true);
    const l40s = (await planJson("--model", "llama-3.1-8b", "--gpu", "l40s-48g", "--gpus-per-node", "1"))
      .plan;
    expect(l40s).toMatchObject({ fits: true, tp: 1, pp: 1 });
  });

  it("plans heterogeneous pools and the latency objective", async () => {
    const { status, plan } = await planJson(
      "--model",
      "llama-3.1-405b",
      "--pool",
      "2x8xh100-sxm-80g",
      "--pool",
      "1x8xa100-sxm-80g",
      "--objective",
      "latency",
    );
    expect(status).toBe(0);
    expect(plan.cluster).toEqual(["2x8xh100-sxm-80g", "1x8xa100-sxm-80g"]);
    expect(plan).toMatchObject({ fits: true, tp: 8, pp: 2, objective: "latency" });
  });

  it("loads a config.json (file or its directory) and a GGUF header of the same model", async () => {
    const dir = join(fixtures.dir, "Tiny-Llama");
    const config = fixtures.write("Tiny-Llama/config.json", JSON.stringify(TINY_CONFIG));
    const gguf = fixtures.write("tiny.gguf", tinyGgufHeader());
    const fromFile = await planJson("--model", config, "--gpu", "cpu");
    const fromDir = await planJson("--model", dir, "--gpu", "cpu");
    expect(fromFile.status).toBe(0);
    expect(fromFile.plan).toMatchObject({ model: "Tiny-Llama", dtype: "bf16", fits: true });
    expect(fromDir.plan).toEqual(fromFile.plan);
    const fromGguf = await planJson("--model", gguf, "--gpu", "cpu", "--nodes", "3");
    expect(fromGguf.status).toBe(0);
    expect(fromGguf.plan).toMatchObject({ model: "tiny", dtype: "gguf:Q8_0", tp: 1, fits: true });
    const covered = fromGguf.plan.stages.flatMap((s: { layers: { first: number; last: number } }) => [
      s.layers.first,
      s.layers.last,
    ]);
    expect(covered[0]).toBe(0);
    expect(covered.at(-1)).toBe(TINY_CONFIG.num_hidden_layers - 1);
  });

  it("reads the real SmolLM2-135M GGUF's header and splits its 30 layers over 3 stages", async () => {
    const gguf = await smollm2Path();
    const { status, plan } = await planJson("--model", gguf, "--gpu", "cpu", "--nodes", "3");
    expect(status).toBe(0);
    expect(plan).toMatchObject({ model: "SmolLM2-135M-Instruct.Q4_1", dtype: "gguf:Q4_1", tp: 1, pp: 3 });
    const ranges = plan.stages.map((s: { layers: { first: number; last: number } }) => s.layers);
    expect(ranges[0].first).toBe(0);
    expect(ranges.at(-1).last).toBe(29);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i].first).toBe(ranges[i - 1].last + 1);
    const table = await strata("plan", "--model", gguf, "--gpu", "cpu", "--nodes", "3");
    expect(table.stdout).toMatch(/^model\s+SmolLM2-135M-Instruct\.Q4_1 \(gguf:Q4_1, 96\.6 MB of weights\)/m);
    expect(table.stdout).toMatch(/tied embeddings/);
  }, 300_000);

  it("reads a GGUF whose header is longer than the first read (a 12 MB tokenizer)", async () => {
    const big = fixtures.write("big-vocab.gguf", tinyGgufHeader(TINY_CONFIG, 400_000));
    const { status, plan } = await planJson("--model", big, "--gpu", "cpu");
    expect(status).toBe(0);
    expect(plan).toMatchObject({ model: "big-vocab", fits: true });
  });

  it("has --help", async () => {
    const r = await strata("plan", "--help");
    expect(r.status).toBe(0);
    for (const flag of [
      "--model",
      "--gpu",
      "--nodes",
      "--gpus-per-node",
      "--pool",
      "--dtype",
      "--max-model-len",
    ]) {
      expect(r.stdout).toContain(flag);
    }
    for (const flag of ["--concurrency", "--gpu-memory-utilization", "--objective", "--json"]) {
      expect(r.stdout).toContain(flag);
    }
  });
});
