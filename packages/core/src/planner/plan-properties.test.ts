import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GPU_CATALOG, type GpuSpec } from "../hardware/gpu-catalog.js";
import { type ModelSpec, WEIGHT_DTYPES } from "../model/model-spec.js";
import { makePool } from "./cluster.js";
import { layerCount } from "./layer-range.js";
import { kvBytesPerTokenPerLayerPerGpu } from "./memory.js";
import { type PlanRequest, planDeployment } from "./search.js";

const modelArb: fc.Arbitrary<ModelSpec> = fc
  .record({
    numLayers: fc.integer({ min: 1, max: 96 }),
    numHeads: fc.constantFrom(8, 16, 32, 64),
    kvDivisor: fc.constantFrom(1, 2, 4, 8),
    headDim: fc.constantFrom(64, 128),
    ffnFactor: fc.double({ min: 2, max: 4, noNaN: true }),
    vocabSize: fc.integer({ min: 1000, max: 160_000 }),
    tiedEmbeddings: fc.boolean(),
    // Mixture of experts (some models): expert count, top-k, expert size, leading dense layers, MLA.
    moe: fc.option(
      fc.record({
        numExperts: fc.constantFrom(8, 16, 32, 64, 128, 256),
        k: fc.integer({ min: 1, max: 8 }),
        expertFactor: fc.double({ min: 0.1, max: 1, noNaN: true }),
        shared: fc.constantFrom(0, 1),
        denseLead: fc.integer({ min: 0, max: 3 }),
        mla: fc.boolean(),
      }),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const hiddenSize = r.numHeads * r.headDim;
    const m = r.moe;
    const expertFfnSize = m ? Math.max(64, Math.round(hiddenSize * m.expertFactor)) : 0;
    return {
      name: "random",
      numLayers: r.numLayers,
      hiddenSize,
      numHeads: r.numHeads,
      numKvHeads: m?.mla ? r.numHeads : r.numHeads / r.kvDivisor,
      headDim: r.headDim,
      ffnSize: Math.round(hiddenSize * r.ffnFactor),
      vocabSize: r.vocabSize,
      tiedEmbeddings: r.tiedEmbeddings,
      ...(m
        ? {
            moe: {
              numExperts: m.numExperts,
              expertsPerToken: Math.min(m.k, m.numExperts),
              expertFfnSize,
              sharedExperts: m.shared,
              sharedExpertFfnSize: m.shared * expertFfnSize,
              denseLayers: Array.from({ length: Math.min(m.denseLead, r.numLayers - 1) }, (_, i) => i),
            },
          }
        : {}),
      ...(m?.mla
        ? {
            mla: {
              qLoraRank: 0,
              kvLoraRank: 4 * r.headDim,
              qkNopeHeadDim: r.headDim / 2,
              qkRopeHeadDim: r.headDim / 2,
              vHeadDim: r.headDim,
            },
          }
        : {}),
      weights: { kind: "dtype" },
    };
  });

const poolArb = fc.record({
  count: fc.integer({ min: 1, max: 4 }),
  gpusPerNode: fc.constantFrom(1, 2, 4, 8),
  gpu: fc.constantFrom(...GPU_CATALOG),
});

const requestArb: fc.Arbitrary<PlanRequest> = fc.record({
  model: modelArb,
  dtype: fc.constantFrom(...WEIGHT_DTYPES.filter((d) => d !== "mxfp4")),
  cluster: fc.record({
    pools: fc
      .array(poolArb, { minLength: 1, maxLength: 2 })
      .map((ps) => ps.map((p) => makePool(p.count, p.gpusPerNode, p.gpu))),
  }),
  workload: fc.record({
    maxModelLen: fc.integer({ min: 128, max: 32_768 }),
    concurrency: fc.integer({ min: 1, max: 64 }),
    gpuMemoryUtilization: fc.double({ min: 0.5, max: 0.95, noNaN: true }),
  }),
  objective: fc.constantFrom("throughput", "latency"),
});

const RUNS = { numRuns: 150 };

describe("planner properties", () => {
  it("stages cover every layer exactly once and in order, on every evaluated layout", () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        for (const c of planDeployment(req).ranked) {
          let next = 0;
          for (const s of c.stages) {
            expect(s.layers.first).toBe(next);
            expect(s.layers.last).toBeGreaterThanOrEqual(s.layers.first);
            next = s.layers.last + 1;
          }
          expect(next).toBe(req.model.numLayers);
          expect(c.stages).toHaveLength(c.pp);
        }
      }),
      RUNS,
    );
  });

  it("no GPU of a fitting plan exceeds its budget, KV cache included", () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const { plan } = planDeployment(req);
        fc.pre(plan.fits);
        const kvPerLayer = kvBytesPerTokenPerLayerPerGpu(req.model, plan.tp);
        for (const s of plan.stages) {
          const m = s.memoryPerGpu;
          const layers = layerCount(s.layers);
          // Each GPU holds the KV cache of its own attention rank: one of gpus/tp per stage.
          const kvUsed = (plan.kvCacheTokensPerReplica / (s.gpus / plan.tp)) * layers * kvPerLayer;
          expect(m.weightsBytes + m.activationBytes + m.overheadBytes + kvUsed).toBeLessThanOrEqual(
            m.budgetBytes,
          );
          expect(kvUsed).toBeLessThanOrEqual(m.kvCacheBytes);
        }
        expect(plan.maxConcurrentSequences).toBeGreaterThanOrEqual(req.workload?.concurrency ?? 1);
      }),
      RUNS,
    );
  });

  it("adding memory never turns a fitting plan into one that does not fit", () => {
    const bigger = (gpu: GpuSpec, factor: number): GpuSpec => ({
      ...gpu,
      memoryBytes: Math.round(gpu.memoryBytes * factor),
    });
    fc.assert(
      fc.property(
        requestArb,
        fc.nat(),
        fc.double({ min: 1, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        (req, which, factor, moreUtilization) => {
          fc.pre(planDeployment(req).plan.fits);
          const pools = req.cluster.pools;
          const grown = pools.map((p, i) =>
            i === which % pools.length ? { ...p, gpu: bigger(p.gpu, factor) } : p,
          );
          const u = req.workload?.gpuMemoryUtilization ?? 0.9;
          const more: PlanRequest = {
            ...req,
            cluster: { pools: grown },
            workload: { ...req.workload, gpuMemoryUtilization: Math.min(1, u + moreUtilization) },
          };
          expect(planDeployment(more).plan.fits).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        expect(planDeployment(req).plan).toEqual(planDeployment(req).plan);
      }),
      { numRuns: 20 },
    );
  });
});
