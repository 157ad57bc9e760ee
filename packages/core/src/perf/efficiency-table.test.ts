import { describe, expect, it } from "vitest";
import { DEFAULT_EFFICIENCY, engineEfficiency } from "./efficiency.js";
import { type FactorCell, factorChain, resolveEfficiency } from "./efficiency-table.js";

const cell = (scope: FactorCell["scope"], key: string, memoryBandwidth: number): FactorCell => ({
  scope,
  key,
  factors: {
    memoryBandwidth,
    decodeCompute: 0.3,
    prefillCompute: 0.4,
    layerLatencyS: 30e-6,
    requestOverheadS: 0.01,
  },
  rows: 5,
  sources: [`${key}.example/page`],
});

const TABLE = [
  cell("family+engine", "hopper/trtllm", 0.81),
  cell("vendor", "amd", 0.42),
  cell("engine", "vllm", 0.55),
  cell("global", "all", 0.6),
];

describe("resolveEfficiency", () => {
  it.each([
    [
      "a (family, engine) cell that exists",
      { vendor: "nvidia", family: "hopper", engine: "trtllm" },
      "family+engine",
      0.81,
    ],
    [
      "a missing cell: the vendor-wide factors",
      { vendor: "amd", family: "cdna3", engine: "sglang" },
      "vendor",
      0.42,
    ],
    [
      "no vendor cell either: the engine-wide factors",
      { vendor: "nvidia", family: "hopper", engine: "vllm" },
      "engine",
      0.55,
    ],
    [
      "nothing more specific: the global factors",
      { vendor: "nvidia", family: "ampere", engine: "sglang" },
      "global",
      0.6,
    ],
    [
      "an unknown engine skips the engine scopes",
      { vendor: "nvidia", family: "hopper", engine: undefined },
      "global",
      0.6,
    ],
  ] as const)("takes %s", (_what, target, scope, memoryBandwidth) => {
    const r = resolveEfficiency(TABLE, target);
    expect(r.scope).toBe(scope);
    expect(r.factors.memoryBandwidth).toBe(memoryBandwidth);
    // Only the cell factors change; the rest stay at their published-range defaults.
    expect(r.factors.stepOverheadS).toBe(DEFAULT_EFFICIENCY.stepOverheadS);
    expect(r.sources).toHaveLength(1);
  });

  it("falls back to the published-range defaults (with the engine's KV-cache sizing) when the table has no cell on the chain", () => {
    const r = resolveEfficiency([], { vendor: "amd", family: "cdna3", engine: "vllm" });
    expect(r).toMatchObject({ scope: "default", sources: [], moe: { scope: "default", sources: [] } });
    expect(r.factors).toEqual(engineEfficiency("vllm"));
    expect(resolveEfficiency([], { vendor: "amd", family: "cdna3" }).factors).toEqual(DEFAULT_EFFICIENCY);
  });

  it("takes the mixture-of-experts factors from their own table, along the same chain", () => {
    const moeTable = [
      {
        scope: "vendor" as const,
        key: "nvidia",
        factors: { moeComputeEfficiency: 0.4, moeLayerLatencyS: 100e-6 },
        rows: 5,
        sources: ["moe.example/page"],
      },
    ];
    const r = resolveEfficiency(
      TABLE,
      { vendor: "nvidia", family: "hopper", engine: "trtllm" },
      { moeTable },
    );
    expect(r.factors).toMatchObject({
      memoryBandwidth: 0.81,
      moeComputeEfficiency: 0.4,
      moeLayerLatencyS: 100e-6,
    });
    expect(r.key).toBe("hopper/trtllm");
    expect(r.moe).toEqual({ scope: "vendor", key: "nvidia", sources: ["moe.example/page"] });
    // Without an MoE table the MoE factors stay at their defaults: no penalty beyond the dense factors.
    expect(
      resolveEfficiency(TABLE, { vendor: "nvidia", family: "hopper", engine: "trtllm" }).factors,
    ).toMatchObject({
      moeComputeEfficiency: 1,
      moeLayerLatencyS: 0,
    });
  });

  it("sizes the KV cache by each engine's documented rule: a share of free memory for TensorRT-LLM, of the device for vLLM", () => {
    const trt = resolveEfficiency(TABLE, { vendor: "nvidia", family: "hopper", engine: "trtllm" });
    expect(trt.factors).toMatchObject({
      kvMemoryRule: "free",
      usableMemoryFraction: 0.9,
      memoryBandwidth: 0.81,
    });
    const vllm = resolveEfficiency(TABLE, { vendor: "nvidia", family: "hopper", engine: "vllm" });
    expect(vllm.factors.kvMemoryRule).toBe("device");
    // An engine without a documented rule, or none named, keeps the default.
    expect(engineEfficiency("sglang")).toEqual(DEFAULT_EFFICIENCY);
    expect(engineEfficiency(undefined)).toEqual(DEFAULT_EFFICIENCY);
  });

  it("orders the chain family+engine, vendor, engine, global", () => {
    expect(factorChain({ vendor: "amd", family: "cdna3", engine: "vllm" })).toEqual([
      { scope: "family+engine", key: "cdna3/vllm" },
      { scope: "vendor", key: "amd" },
      { scope: "engine", key: "vllm" },
      { scope: "global", key: "all" },
    ]);
  });
});
