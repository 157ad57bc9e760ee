import { afterAll, describe, expect, it } from "vitest";
import { DEEPSEEK_V3_CONFIG, fixtureDir, publishedConfig, strata } from "./plan-fixtures.js";

// `strata plan` for mixture-of-experts models, as a user runs it: the built CLI on the
// publishers' config.json files (packages/core/src/model/hf-configs).
const fixtures = fixtureDir();
afterAll(() => fixtures.cleanup());

const files = {
  deepseekV3: fixtures.write("DeepSeek-V3/config.json", JSON.stringify(DEEPSEEK_V3_CONFIG)),
  qwen3: fixtures.write(
    "Qwen3-235B-A22B/config.json",
    JSON.stringify(publishedConfig("Qwen--Qwen3-235B-A22B.json")),
  ),
};

interface JsonStage {
  readonly gpus: number;
  readonly layers: { readonly first: number; readonly last: number };
  readonly kvCacheTokens: number;
  readonly memoryPerGpu: {
    readonly weightsBytes: number;
    readonly expertWeightsBytes: number;
    readonly kvCacheBytes: number;
  };
}

describe("strata plan, mixture of experts", () => {
  it("DeepSeek-V3 in bf16 on 1×8 H100: exit 2, one line naming 1.34 TB of weights and the smallest change", async () => {
    const r = await strata(
      "plan",
      "--model",
      files.deepseekV3,
      "--gpu",
      "h100",
      "--nodes",
      "1",
      "--gpus-per-node",
      "8",
      "--dtype",
      "bf16",
    );
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^strata: does not fit: DeepSeek-V3 weights in bf16 take 1\.34 TB, but 1 × 8 × H100/,
    );
    expect(lines[0]).toMatch(
      /smallest change that fits: --dtype \w+ \(tp=\d+ pp=\d+ dp=\d+[^)]*\), or --nodes \d+/,
    );
    expect(r.stdout).toContain("DOES NOT FIT");
  });

  it("DeepSeek-V3 from its config.json (fp8, as shipped) on 1×8 H200 fits, experts shown per stage", async () => {
    const r = await strata("plan", "--model", files.deepseekV3, "--gpu", "h200", "--json");
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ fits: true, dtype: "fp8", gpusUsed: 8 });
    expect(plan.weightsBytes / 1e9).toBeCloseTo(672.9, 0);
    expect(typeof plan.ep).toBe("number");
    for (const s of plan.stages as JsonStage[]) {
      expect(s.memoryPerGpu.expertWeightsBytes).toBeGreaterThan(0);
      expect(s.memoryPerGpu.expertWeightsBytes).toBeLessThan(s.memoryPerGpu.weightsBytes);
    }
    const table = await strata("plan", "--model", files.deepseekV3, "--gpu", "h200");
    expect(table.stdout).toMatch(/^stage\s+layers\s+nodes\s+gpus\s+gpu\s+weights\s+experts\s+kv cache/m);
  });

  it("DeepSeek-V3 on 1×8 H200 in one stage (latency objective): tp=8, each GPU an eighth of the routed experts", async () => {
    const r = await strata(
      "plan",
      "--model",
      "deepseek-v3",
      "--gpu",
      "h200",
      "--objective",
      "latency",
      "--json",
    );
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ fits: true, pp: 1, tp: 8, ep: 1 });
    const [stage] = plan.stages as JsonStage[];
    if (!stage) throw new Error("no stage");
    // The routed experts: 58 layers × 256 experts × 3 × 7168 × 2048 fp8 bytes over 8 GPUs.
    const experts = (58 * 256 * 3 * 7168 * 2048) / 8;
    expect(stage.memoryPerGpu.expertWeightsBytes / experts).toBeCloseTo(1, 3);
    expect(plan.notes.join("\n")).toMatch(/each of the 256 experts over tp=8/);
  });

  it("Qwen3-235B-A22B in bf16: about 470 GB of weights; on 1×8 H100 the verdict and KV tokens follow from it", async () => {
    const r = await strata("plan", "--model", files.qwen3, "--gpu", "h100", "--dtype", "bf16", "--json");
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.weightsBytes / 1e9).toBeGreaterThan(465);
    expect(plan.weightsBytes / 1e9).toBeLessThan(475);
    expect(plan.fits).toBe(true);
    let weights = 0;
    for (const s of plan.stages as JsonStage[]) {
      // Each GPU holds its share of 470 GB; what is left of the budget is KV cache, and the
      // tokens are that over the stage's bytes per token: 2 (K, V) × KV heads per GPU (4 heads
      // over tp, at least 1) × head_dim 128 × 2 bytes × its layers.
      weights += s.memoryPerGpu.weightsBytes * s.gpus;
      const layers = s.layers.last - s.layers.first + 1;
      const perToken = 2 * Math.ceil(4 / plan.tp) * 128 * 2 * layers;
      expect(s.kvCacheTokens).toBe(Math.floor(s.memoryPerGpu.kvCacheBytes / perToken));
    }
    expect(weights / plan.weightsBytes).toBeGreaterThan(0.99);
    expect(weights / plan.weightsBytes).toBeLessThan(1.01);
    expect(plan.kvCacheTokensPerReplica).toBe(
      Math.min(...plan.stages.map((s: JsonStage) => s.kvCacheTokens)),
    );
  });
});
