import { describe, expect, it } from "vitest";
import { findGpu, GPU_CATALOG } from "../hardware/gpu-catalog.js";
import { findModel } from "../model/catalog.js";
import { type WeightDtype, weightBytes } from "../model/model-spec.js";
import { parsePool } from "./cluster.js";
import { whyItDoesNotFit } from "./does-not-fit.js";
import { layerCount } from "./layer-range.js";
import { type PlanRequest, planDeployment } from "./search.js";

function request(model: string, dtype: WeightDtype, pools: string[], maxModelLen = 8192): PlanRequest {
  return {
    model: findModel(model),
    dtype,
    cluster: { pools: pools.map((p) => parsePool(p)) },
    workload: { maxModelLen },
  };
}

describe("planner acceptance (issue 2)", () => {
  it("405B bf16 on one node of 8×H100-80G does not fit; the message gives weights vs budget and the smallest change", () => {
    const req = request("llama-3.1-405b", "bf16", ["1x8xh100-sxm-80g"]);
    const { plan, ranked } = planDeployment(req);
    expect(plan.fits).toBe(false);
    const closest = ranked[0];
    if (!closest) throw new Error("no candidate");
    const message = whyItDoesNotFit(req, closest);
    expect(message).toContain("811.7 GB");
    expect(message).toContain("budget of 576.0 GB");
    expect(message).toMatch(/--dtype fp8 \(tp=8 pp=1 dp=1\)/);
    expect(message).toMatch(/--nodes 2 \(tp=8 pp=2 dp=1\)/);
  });

  it("405B bf16 on two such nodes: tp=8, pp=2, stages of 63 layers (±1), fits", () => {
    const { plan } = planDeployment(request("llama-3.1-405b", "bf16", ["2x8xh100-sxm-80g"]));
    expect(plan).toMatchObject({ version: 2, fits: true, tp: 8, pp: 2, dp: 1 });
    for (const s of plan.stages) expect(Math.abs(layerCount(s.layers) - 63)).toBeLessThanOrEqual(1);
    expect(plan.stages.map((s) => s.nodes)).toEqual([["node-0"], ["node-1"]]);
    expect(plan.stages.every((s) => s.gpus === 8)).toBe(true);
  });

  it("405B fp8 on 8×H100: tp=8, pp=1; on 8×H200 strictly more KV-cache tokens", () => {
    const h100 = planDeployment(request("llama-3.1-405b", "fp8", ["1x8xh100-sxm-80g"])).plan;
    const h200 = planDeployment(request("llama-3.1-405b", "fp8", ["1x8xh200-141g"])).plan;
    expect(h100).toMatchObject({ fits: true, tp: 8, pp: 1 });
    expect(h200.fits).toBe(true);
    expect(h200.kvCacheTokens).toBeGreaterThan(h100.kvCacheTokens);
  });

  it("70B bf16 on 8×H100 fits with weights per GPU = weights / (tp × pp) within 2%", () => {
    const { plan } = planDeployment(request("llama-3.1-70b", "bf16", ["1x8xh100-sxm-80g"]));
    expect(plan.fits).toBe(true);
    const share = weightBytes(findModel("llama-3.1-70b"), "bf16").totalBytes / (plan.tp * plan.pp);
    expect(Math.abs(plan.memoryPerGpu.weightsBytes / share - 1)).toBeLessThan(0.02);
  });

  it("8B bf16 on one L40S: tp=1, fits", () => {
    const { plan } = planDeployment(request("llama-3.1-8b", "bf16", ["1x1xl40s-48g"]));
    expect(plan).toMatchObject({ fits: true, tp: 1, pp: 1, dp: 1 });
    expect(plan.stages).toEqual([
      expect.objectContaining({ index: 0, layers: { first: 0, last: 31 }, gpus: 1, gpu: "l40s-48g" }),
    ]);
  });

  it("the memory breakdown adds up to the budget on every stage", () => {
    const { plan } = planDeployment(request("llama-3.1-405b", "bf16", ["2x8xh100-sxm-80g"]));
    for (const s of plan.stages) {
      const m = s.memoryPerGpu;
      expect(m.weightsBytes + m.kvCacheBytes + m.activationBytes + m.overheadBytes).toBe(m.budgetBytes);
      expect(m.budgetBytes).toBe(0.9 * 80e9);
    }
  });

  it("latency prefers fewer stages, throughput the most KV tokens per GPU", () => {
    const req = request("llama-3.1-70b", "bf16", ["2x8xh100-sxm-80g"]);
    const latency = planDeployment({ ...req, objective: "latency" }).plan;
    expect(latency).toMatchObject({ tp: 8, pp: 1, dp: 2 });
    expect(latency.why).toMatch(/^latency: fewest pipeline stages/);
    const throughput = planDeployment(req).plan;
    expect(throughput.why).toMatch(/^throughput: most KV-cache tokens per GPU/);
    expect(throughput.kvCacheTokens / throughput.gpusUsed).toBeGreaterThanOrEqual(
      latency.kvCacheTokens / latency.gpusUsed,
    );
    expect(throughput.candidates).toHaveLength(2);
  });

  it("takes extra objectives without changing the search", () => {
    const fewestGpus = {
      name: "fewest-gpus",
      description: "fewest GPUs",
      compare: (a: { gpusUsed: number; tp: number }, b: { gpusUsed: number; tp: number }) =>
        a.gpusUsed - b.gpusUsed || b.tp - a.tp,
      explain: () => "uses the fewest GPUs",
    };
    const req = { ...request("llama-3.1-8b", "bf16", ["1x8xh100-sxm-80g"]), objective: "fewest-gpus" };
    const { plan } = planDeployment(req, { objectives: new Map([["fewest-gpus", fewestGpus]]) });
    expect(plan.why).toBe("fewest-gpus: uses the fewest GPUs");
    expect(() => planDeployment({ ...req, objective: "goodput" })).toThrow(
      /--objective: unknown objective "goodput"/,
    );
  });

  it("suggests a shorter max-model-len when weights fit but the KV cache does not", () => {
    const req = {
      ...request("llama-3.1-70b", "bf16", ["1x8xh100-sxm-80g"]),
      workload: { maxModelLen: 131072, concurrency: 20 },
    };
    const { plan, ranked } = planDeployment(req);
    expect(plan.fits).toBe(false);
    const message = whyItDoesNotFit(req, ranked[0] as NonNullable<(typeof ranked)[0]>);
    expect(message).toMatch(/the weights fit, but the KV cache holds [\d,]+ tokens/);
    const len = Number(/--max-model-len (\d+)/.exec(message)?.[1]);
    expect(planDeployment({ ...req, workload: { maxModelLen: len, concurrency: 20 } }).plan.fits).toBe(true);
    expect(planDeployment({ ...req, workload: { maxModelLen: len + 1, concurrency: 20 } }).plan.fits).toBe(
      false,
    );
  });

  it("replicates KV heads when tp exceeds them and notes it", () => {
    const model = { ...findModel("llama-3.1-8b"), numKvHeads: 4, name: "gqa4" };
    const { plan } = planDeployment({
      model,
      dtype: "bf16",
      cluster: { pools: [parsePool("1x8xh100")] },
      objective: "latency",
    });
    expect(plan.tp).toBe(8);
    expect(plan.notes).toContain("tp=8 exceeds the 4 KV heads: each KV head is replicated on 2 GPUs");
  });

  it("puts more layers on the stage with more memory in a heterogeneous cluster", () => {
    const { plan } = planDeployment({
      ...request("llama-3.1-405b", "bf16", ["1x8xh200-141g", "1x8xh100-sxm-80g"]),
      objective: "latency",
    });
    expect(plan).toMatchObject({ fits: true, tp: 8, pp: 2 });
    const [a, b] = plan.stages;
    if (!a || !b) throw new Error("two stages expected");
    expect(a.gpu).toBe("h200-141g");
    expect(layerCount(a.layers)).toBeGreaterThan(layerCount(b.layers));
  });
});

describe("GPU catalog", () => {
  it("has every GPU the issue names, each figure with a public source", () => {
    const names = GPU_CATALOG.map((g) => g.name);
    expect(names).toEqual([
      "h100-sxm-80g",
      "h200-141g",
      "a100-sxm-80g",
      "a100-40g",
      "l40s-48g",
      "b200",
      "mi300x",
      "cpu",
    ]);
    for (const g of GPU_CATALOG.filter((x) => x.kind === "gpu")) {
      for (const figure of [
        "memoryBytes",
        "memoryBandwidthBytesPerS",
        "bf16DenseTflops",
        "intraNodeLinkBytesPerS",
      ] as const) {
        expect(g.sources[figure], `${g.name} ${figure}`).toMatch(/^https:\/\//);
      }
      if (g.fp8DenseTflops !== undefined) expect(g.sources.fp8DenseTflops).toMatch(/^https:\/\//);
    }
  });

  it("finds GPUs by alias and names the known ones otherwise", () => {
    expect(findGpu("H100").name).toBe("h100-sxm-80g");
    expect(() => findGpu("rtx-9090")).toThrow(/--gpu: unknown GPU "rtx-9090"; known: h100-sxm-80g/);
  });
});

describe("whyItDoesNotFit", () => {
  it("explains with the default objective when the request names one it was not given", () => {
    const req = { ...request("llama-3.1-405b", "bf16", ["1x8xh100-sxm-80g"]), objective: "goodput" };
    const closest = planDeployment({ ...req, objective: "throughput" }).ranked[0];
    if (!closest) throw new Error("no candidate");
    expect(whyItDoesNotFit(req, closest)).toContain("--nodes 2 (tp=8 pp=2 dp=1)");
  });
});
