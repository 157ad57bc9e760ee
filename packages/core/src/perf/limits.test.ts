import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DoesNotFitError } from "../errors.js";
import { type EfficiencyFactors, KV_MEMORY_RULES, type KvMemoryRule } from "./efficiency.js";
import {
  CELL_FACTOR_RANGES,
  type CellFactorName,
  MOE_CELL_FACTOR_RANGES,
  type MoeCellFactorName,
} from "./efficiency-table.js";
import { predictPerformance } from "./predict.js";
import { SHIPPED_FACTORS, SHIPPED_MOE_FACTORS } from "./shipped-factors.js";
import type {
  PerfDtype,
  PerfGpu,
  PerfLayout,
  PerfModelShape,
  PerfPrediction,
  PerfWorkload,
} from "./types.js";

// Physical limits, computed here from the raw figures and not from the model's own
// helpers, so a bug in those helpers cannot hide a prediction that beats physics.
const BYTES: Record<PerfDtype, number> = { bf16: 2, fp16: 2, fp8: 1, int8: 1, mxfp4: 0.53125, int4: 0.5 };

const modelArb: fc.Arbitrary<PerfModelShape> = fc
  .record({
    numLayers: fc.integer({ min: 1, max: 128 }),
    kvHeads: fc.constantFrom(1, 2, 4, 8, 16),
    groups: fc.constantFrom(1, 2, 4, 8),
    headDim: fc.constantFrom(64, 128),
    paramsPerLayerScale: fc.double({ min: 0.5, max: 4, noNaN: true }),
    storedBytesPerParam: fc.option(fc.double({ min: 0.5, max: 2, noNaN: true }), { nil: undefined }),
  })
  .map(({ numLayers, kvHeads, groups, headDim, paramsPerLayerScale, storedBytesPerParam }) => {
    const numHeads = kvHeads * groups;
    const hiddenSize = numHeads * headDim;
    const parameterCount = Math.round(numLayers * 12 * hiddenSize * hiddenSize * paramsPerLayerScale);
    return {
      numLayers,
      hiddenSize,
      numHeads,
      numKvHeads: kvHeads,
      headDim,
      parameterCount,
      weightBytes: storedBytesPerParam === undefined ? undefined : parameterCount * storedBytesPerParam,
    };
  });

const gpuArb: fc.Arbitrary<PerfGpu> = fc.record({
  memoryBytes: fc.double({ min: 16e9, max: 300e9, noNaN: true }),
  memoryBandwidthBytesPerS: fc.double({ min: 0.5e12, max: 10e12, noNaN: true }),
  bf16DenseTflops: fc.double({ min: 50, max: 2500, noNaN: true }),
  fp8DenseTflops: fc.option(fc.double({ min: 100, max: 5000, noNaN: true }), { nil: undefined }),
  intraNodeLinkBytesPerS: fc.double({ min: 16e9, max: 1000e9, noNaN: true }),
  interNodeLinkBytesPerS: fc.double({ min: 5e9, max: 100e9, noNaN: true }),
});

const layoutArb: fc.Arbitrary<PerfLayout> = fc.record({
  tp: fc.constantFrom(1, 2, 4, 8),
  pp: fc.integer({ min: 1, max: 8 }),
  replicas: fc.integer({ min: 1, max: 4 }),
  gpusPerNode: fc.constantFrom(4, 8),
  weightDtype: fc.constantFrom<PerfDtype>("bf16", "fp8", "int4"),
  kvDtype: fc.option(fc.constantFrom<PerfDtype>("bf16", "fp8"), { nil: undefined }),
});

const workloadArb: fc.Arbitrary<PerfWorkload> = fc.record({
  inputTokens: fc.integer({ min: 1, max: 32_000 }),
  outputTokens: fc.integer({ min: 1, max: 8_000 }),
  concurrency: fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
});

/** Every factor anywhere in its documented range, including perfect hardware (1.0). */
const effArb: fc.Arbitrary<EfficiencyFactors> = fc.record({
  memoryBandwidth: fc.double({ min: 0.05, max: 1, noNaN: true }),
  prefillCompute: fc.double({ min: 0.05, max: 1, noNaN: true }),
  decodeCompute: fc.double({ min: 0.05, max: 1, noNaN: true }),
  rooflineBlendExponent: fc.double({ min: 1, max: 64, noNaN: true }),
  linkBandwidth: fc.double({ min: 0.05, max: 1, noNaN: true }),
  allReduceLatencyS: fc.double({ min: 0, max: 1e-4, noNaN: true }),
  pipelineHopLatencyS: fc.double({ min: 0, max: 1e-4, noNaN: true }),
  stepOverheadS: fc.double({ min: 0, max: 5e-3, noNaN: true }),
  layerLatencyS: fc.double({ min: 0, max: 200e-6, noNaN: true }),
  moeComputeEfficiency: fc.double({ min: 0.05, max: 1, noNaN: true }),
  moeLayerLatencyS: fc.double({ min: 0, max: 400e-6, noNaN: true }),
  requestOverheadS: fc.double({ min: 0, max: 0.2, noNaN: true }),
  usableMemoryFraction: fc.double({ min: 0.5, max: 1, noNaN: true }),
  kvMemoryRule: fc.constantFrom<KvMemoryRule>(...KV_MEMORY_RULES),
  runtimeReserveBytes: fc.double({ min: 0, max: 8e9, noNaN: true }),
  maxBatchSequences: fc.integer({ min: 1, max: 8192 }),
  prefillChunkTokens: fc.integer({ min: 256, max: 16_384 }),
});

type Case = [PerfModelShape, PerfGpu, PerfLayout, PerfWorkload, EfficiencyFactors];

/**
 * The prediction of a case that fits. A plan that does not fit is a legitimate answer,
 * not a limit breach, so the case is discarded with fc.pre: fast-check then draws
 * another, and each property below checks its full numRuns of fitting cases (it fails
 * if too few of the drawn cases fit), instead of passing on cases that never ran.
 */
function predictFitting(...[model, gpu, layout, workload, eff]: Case): PerfPrediction {
  let p: PerfPrediction | undefined;
  try {
    p = predictPerformance(model, gpu, layout, workload, eff);
  } catch (err: unknown) {
    if (!(err instanceof DoesNotFitError)) throw err;
  }
  fc.pre(p !== undefined);
  return p as PerfPrediction;
}

/** Counts the cases a property really checked, so a test can require them all. */
function counted<A extends unknown[]>(
  check: (...args: A) => void,
): { run: (...args: A) => void; count: () => number } {
  let n = 0;
  return {
    run: (...args: A) => {
      check(...args);
      n++;
    },
    count: () => n,
  };
}

const RELATIVE_SLACK = 1 + 1e-9; // floating-point rounding only

describe("no prediction beats the physical limit", () => {
  it("decode is never faster than reading each GPU's weight and KV share from HBM once per step", () => {
    const checked = counted((...c: Case) => {
      const p = predictFitting(...c);
      const [model, gpu, layout, workload] = c;
      const gpusPerReplica = layout.tp * layout.pp;
      const weightShare =
        (model.weightBytes ?? model.parameterCount * BYTES[layout.weightDtype]) / gpusPerReplica;
      const kvPerToken =
        (2 *
          model.numKvHeads *
          model.headDim *
          BYTES[layout.kvDtype ?? layout.weightDtype] *
          model.numLayers) /
        layout.pp /
        Math.min(layout.tp, model.numKvHeads);
      const meanContext = workload.inputTokens + workload.outputTokens / 2;
      const kvShare = p.batchPerReplica * meanContext * kvPerToken;
      const floorS = (weightShare + kvShare) / gpu.memoryBandwidthBytesPerS;
      expect(p.tpotMs / 1000).toBeGreaterThanOrEqual(floorS / RELATIVE_SLACK);
      // Hence no replica emits more than a batch per floor step.
      const replicaTokensPerS = p.outputTokensPerS / layout.replicas;
      expect(replicaTokensPerS).toBeLessThanOrEqual((p.batchPerReplica / floorS) * RELATIVE_SLACK);
    });
    fc.assert(fc.property(modelArb, gpuArb, layoutArb, workloadArb, effArb, checked.run), { numRuns: 2000 });
    expect(checked.count()).toBeGreaterThanOrEqual(2000);
  });

  it("prefill is never faster than the dense compute peak of the GPUs doing it", () => {
    const checked = counted((...c: Case) => {
      const p = predictFitting(...c);
      const [model, gpu, layout, workload] = c;
      const tflops =
        layout.weightDtype === "fp8" && gpu.fp8DenseTflops !== undefined
          ? gpu.fp8DenseTflops
          : gpu.bf16DenseTflops;
      const peakPerGpu = tflops * 1e12;
      const flopsPerPromptToken = 2 * model.parameterCount; // attention FLOPs only add to this
      const allGpus = layout.tp * layout.pp * layout.replicas;
      expect(p.prefillTokensPerS).toBeLessThanOrEqual(
        ((allGpus * peakPerGpu) / flopsPerPromptToken) * RELATIVE_SLACK,
      );
      const promptFloorS =
        (workload.inputTokens * flopsPerPromptToken) / (layout.tp * layout.pp * peakPerGpu);
      expect(p.ttftMs / 1000).toBeGreaterThanOrEqual(promptFloorS / RELATIVE_SLACK);
    });
    fc.assert(fc.property(modelArb, gpuArb, layoutArb, workloadArb, effArb, checked.run), { numRuns: 2000 });
    expect(checked.count()).toBeGreaterThanOrEqual(2000);
  });

  it("never schedules more sequences than the KV cache holds", () => {
    const checked = counted((...c: Case) => {
      const p = predictFitting(...c);
      const [, , , workload] = c;
      const tokens = p.batchPerReplica * (workload.inputTokens + workload.outputTokens);
      expect(tokens).toBeLessThanOrEqual(p.kvCapacityTokensPerReplica);
    });
    fc.assert(fc.property(modelArb, gpuArb, layoutArb, workloadArb, effArb, checked.run), { numRuns: 1000 });
    expect(checked.count()).toBeGreaterThanOrEqual(1000);
  });

  it("covers the shipped factor table: every cell's factors lie inside the ranges drawn above", () => {
    // The properties hold for any factors in their ranges; the table ships values from there.
    expect(CELL_FACTOR_RANGES).toEqual({
      memoryBandwidth: { min: 0.05, max: 1 },
      decodeCompute: { min: 0.05, max: 1 },
      prefillCompute: { min: 0.05, max: 1 },
      layerLatencyS: { min: 0, max: 200e-6 },
      requestOverheadS: { min: 0, max: 0.2 },
    });
    for (const cell of SHIPPED_FACTORS) {
      for (const [name, value] of Object.entries(cell.factors)) {
        const range = CELL_FACTOR_RANGES[name as CellFactorName];
        expect(value).toBeGreaterThanOrEqual(range.min);
        expect(value).toBeLessThanOrEqual(range.max);
      }
    }
    expect(SHIPPED_FACTORS.length).toBeGreaterThan(0);
    expect(MOE_CELL_FACTOR_RANGES).toEqual({
      moeComputeEfficiency: { min: 0.05, max: 1 },
      moeLayerLatencyS: { min: 0, max: 400e-6 },
    });
    for (const cell of SHIPPED_MOE_FACTORS) {
      for (const [name, value] of Object.entries(cell.factors)) {
        const range = MOE_CELL_FACTOR_RANGES[name as MoeCellFactorName];
        expect(value).toBeGreaterThanOrEqual(range.min);
        expect(value).toBeLessThanOrEqual(range.max);
      }
    }
  });
});

// Mixture-of-experts models: experts are most of the bytes, a token uses k of E.
const moeModelArb: fc.Arbitrary<PerfModelShape> = fc
  .record({
    base: modelArb,
    numExperts: fc.constantFrom(8, 16, 64, 128, 256),
    k: fc.integer({ min: 1, max: 8 }),
    moeShare: fc.double({ min: 0.3, max: 1, noNaN: true }),
    expertBytesShare: fc.double({ min: 0.5, max: 0.97, noNaN: true }),
    activeShare: fc.double({ min: 0.02, max: 0.5, noNaN: true }),
    mla: fc.boolean(),
    expertParamShare: fc.option(fc.double({ min: 0.3, max: 0.97, noNaN: true }), { nil: undefined }),
  })
  .map(({ base, numExperts, k, moeShare, expertBytesShare, activeShare, mla, expertParamShare }) => {
    const weightBytes = base.weightBytes ?? base.parameterCount * 2;
    return {
      ...base,
      weightBytes,
      activeParameterCount: Math.round(base.parameterCount * activeShare),
      moe: {
        numExperts,
        expertsPerToken: Math.min(k, numExperts),
        moeLayers: Math.max(1, Math.round(base.numLayers * moeShare)),
        routedExpertBytes: weightBytes * expertBytesShare,
        // The routed experts' parameters: what a token's k of E experts multiply is part of the active count.
        routedExpertParameterCount:
          expertParamShare === undefined
            ? undefined
            : Math.min(
                base.parameterCount * expertParamShare,
                (base.parameterCount * activeShare * numExperts) / Math.min(k, numExperts),
              ),
      },
      ...(mla ? { mla: { kvLoraRank: 512, ropeDim: 64 } } : {}),
    };
  });

const moeLayoutArb: fc.Arbitrary<PerfLayout> = fc
  .record({ layout: layoutArb, ranks: fc.constantFrom(1, 2, 4, 8) })
  .map(({ layout, ranks }) => ({ ...layout, ep: ranks === 1 ? 1 : layout.tp * ranks, gpusPerNode: 8 }));

describe("no mixture-of-experts prediction beats the physical limit", () => {
  it("decode reads at least each GPU's non-expert share, k experts' share per MoE layer, and its KV", () => {
    const checked = counted((...c: Case) => {
      const p = predictFitting(...c);
      const [model, gpu, layout, workload] = c;
      const moe = model.moe;
      if (!moe) throw new Error("the arbitrary makes MoE models");
      const ep = layout.ep ?? 1;
      const width = ep > 1 ? ep : layout.tp;
      const ranks = width / layout.tp;
      const stored = model.weightBytes ?? 0;
      const nonExpert = (stored - moe.routedExpertBytes) / (layout.tp * layout.pp);
      // However the tokens pick, one step touches at least k experts of each MoE layer.
      const experts = (moe.routedExpertBytes * (moe.expertsPerToken / moe.numExperts)) / (width * layout.pp);
      const kvBytes = BYTES[layout.kvDtype ?? layout.weightDtype];
      const kvPerToken = model.mla
        ? ((model.mla.kvLoraRank + model.mla.ropeDim) * kvBytes * model.numLayers) / layout.pp
        : (2 * model.numKvHeads * model.headDim * kvBytes * model.numLayers) /
          layout.pp /
          Math.min(layout.tp, model.numKvHeads);
      const meanContext = workload.inputTokens + workload.outputTokens / 2;
      const kvShare = (p.batchPerReplica / ranks) * meanContext * kvPerToken;
      const floorS = (nonExpert + experts + kvShare) / gpu.memoryBandwidthBytesPerS;
      expect(p.tpotMs / 1000).toBeGreaterThanOrEqual(floorS / RELATIVE_SLACK);
      const replicaTokensPerS = p.outputTokensPerS / layout.replicas;
      expect(replicaTokensPerS).toBeLessThanOrEqual((p.batchPerReplica / floorS) * RELATIVE_SLACK);
    });
    fc.assert(fc.property(moeModelArb, gpuArb, moeLayoutArb, workloadArb, effArb, checked.run), {
      numRuns: 2000,
    });
    expect(checked.count()).toBeGreaterThanOrEqual(2000);
  });

  it("prefill is never faster than the peak of all the replica's GPUs over the active parameters", () => {
    const checked = counted((...c: Case) => {
      const p = predictFitting(...c);
      const [model, gpu, layout] = c;
      const tflops =
        layout.weightDtype === "fp8" && gpu.fp8DenseTflops !== undefined
          ? gpu.fp8DenseTflops
          : gpu.bf16DenseTflops;
      const ep = layout.ep ?? 1;
      const allGpus = (ep > 1 ? ep : layout.tp) * layout.pp * layout.replicas;
      const flopsPerPromptToken = 2 * (model.activeParameterCount ?? model.parameterCount);
      expect(p.prefillTokensPerS).toBeLessThanOrEqual(
        ((allGpus * tflops * 1e12) / flopsPerPromptToken) * RELATIVE_SLACK,
      );
    });
    fc.assert(fc.property(moeModelArb, gpuArb, moeLayoutArb, workloadArb, effArb, checked.run), {
      numRuns: 1000,
    });
    expect(checked.count()).toBeGreaterThanOrEqual(1000);
  });

  it("never schedules more sequences than the KV cache holds", () => {
    const checked = counted((...c: Case) => {
      const p = predictFitting(...c);
      const [, , , workload] = c;
      const tokens = p.batchPerReplica * (workload.inputTokens + workload.outputTokens);
      expect(tokens).toBeLessThanOrEqual(p.kvCapacityTokensPerReplica);
    });
    fc.assert(fc.property(moeModelArb, gpuArb, moeLayoutArb, workloadArb, effArb, checked.run), {
      numRuns: 1000,
    });
    expect(checked.count()).toBeGreaterThanOrEqual(1000);
  });
});
