/**
 * The factor tables Strata ships: fitted by `bench/src/capacity/fit.ts` on
 * bench/data/published.csv and bench/data/published-moe.csv (regenerate with
 * bench/src/capacity/fit-main.ts; the test fit.test.ts refits and fails when this copy
 * differs), one cell per scope that has at least MIN_ROWS_PER_CELL measurements: the
 * dense table from the dense models' rows, the mixture-of-experts table from the MoE
 * models' rows over it. Each cell lists the sources it depends on;
 * `strata bench capacity --validate FILES --cv source` refits without each source in
 * turn to show how well the factors predict a source they never saw.
 */
import type { FactorTable, MoeFactorTable } from "./efficiency-table.js";

export const SHIPPED_FACTORS: FactorTable = [
  {
    scope: "family+engine",
    key: "cdna3/vllm",
    factors: {
      memoryBandwidth: 0.45,
      decodeCompute: 0.15,
      prefillCompute: 0.2,
      layerLatencyS: 0.00003,
      requestOverheadS: 0.005,
    },
    rows: 103,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
      "github.com/dstackai/benchmarks",
    ],
  },
  {
    scope: "family+engine",
    key: "hopper/sglang",
    factors: {
      memoryBandwidth: 0.95,
      decodeCompute: 0.2,
      prefillCompute: 0.8,
      layerLatencyS: 0.00006,
      requestOverheadS: 0.03,
    },
    rows: 6,
    sources: ["github.com/gpustack/gpustack"],
  },
  {
    scope: "family+engine",
    key: "hopper/trtllm",
    factors: {
      memoryBandwidth: 0.75,
      decodeCompute: 0.4,
      prefillCompute: 0.6,
      layerLatencyS: 0.00002,
      requestOverheadS: 0.035,
    },
    rows: 142,
    sources: ["github.com/NVIDIA/TensorRT-LLM", "github.com/gpustack/gpustack"],
  },
  {
    scope: "family+engine",
    key: "hopper/vllm",
    factors: {
      memoryBandwidth: 0.8,
      decodeCompute: 0.1,
      prefillCompute: 0.8,
      layerLatencyS: 0.00004,
      requestOverheadS: 0.055,
    },
    rows: 35,
    sources: [
      "blog.vllm.ai/2026/04/22/fp8-kvcache.html",
      "buildkite.com/vllm/performance-benchmark",
      "github.com/dstackai/benchmarks",
      "github.com/gpustack/gpustack",
    ],
  },
  {
    scope: "vendor",
    key: "amd",
    factors: {
      memoryBandwidth: 0.45,
      decodeCompute: 0.15,
      prefillCompute: 0.2,
      layerLatencyS: 0.00003,
      requestOverheadS: 0.005,
    },
    rows: 103,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
      "github.com/dstackai/benchmarks",
    ],
  },
  {
    scope: "vendor",
    key: "nvidia",
    factors: {
      memoryBandwidth: 0.7,
      decodeCompute: 0.35,
      prefillCompute: 0.75,
      layerLatencyS: 0.00002,
      requestOverheadS: 0.04,
    },
    rows: 195,
    sources: [
      "blog.vllm.ai/2026/04/22/fp8-kvcache.html",
      "buildkite.com/vllm/performance-benchmark",
      "docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance",
      "github.com/NVIDIA/TensorRT-LLM",
      "github.com/dstackai/benchmarks",
      "github.com/gpustack/gpustack",
    ],
  },
  {
    scope: "engine",
    key: "sglang",
    factors: {
      memoryBandwidth: 0.95,
      decodeCompute: 0.2,
      prefillCompute: 0.8,
      layerLatencyS: 0.00006,
      requestOverheadS: 0.03,
    },
    rows: 6,
    sources: ["github.com/gpustack/gpustack"],
  },
  {
    scope: "engine",
    key: "trtllm",
    factors: {
      memoryBandwidth: 0.75,
      decodeCompute: 0.4,
      prefillCompute: 0.6,
      layerLatencyS: 0.00002,
      requestOverheadS: 0.035,
    },
    rows: 142,
    sources: ["github.com/NVIDIA/TensorRT-LLM", "github.com/gpustack/gpustack"],
  },
  {
    scope: "engine",
    key: "vllm",
    factors: {
      memoryBandwidth: 0.85,
      decodeCompute: 0.1,
      prefillCompute: 0.8,
      layerLatencyS: 0.00006,
      requestOverheadS: 0.055,
    },
    rows: 140,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blog.vllm.ai/2026/04/22/fp8-kvcache.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
      "buildkite.com/vllm/performance-benchmark",
      "github.com/dstackai/benchmarks",
      "github.com/gpustack/gpustack",
    ],
  },
  {
    scope: "global",
    key: "all",
    factors: {
      memoryBandwidth: 0.85,
      decodeCompute: 0.15,
      prefillCompute: 0.75,
      layerLatencyS: 0.00006,
      requestOverheadS: 0.04,
    },
    rows: 298,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blog.vllm.ai/2026/04/22/fp8-kvcache.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
      "buildkite.com/vllm/performance-benchmark",
      "docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance",
      "github.com/NVIDIA/TensorRT-LLM",
      "github.com/dstackai/benchmarks",
      "github.com/gpustack/gpustack",
    ],
  },
];

export const SHIPPED_MOE_FACTORS: MoeFactorTable = [
  {
    scope: "family+engine",
    key: "hopper/trtllm",
    factors: {
      moeComputeEfficiency: 0.3,
      moeLayerLatencyS: 0.0003,
    },
    rows: 35,
    sources: ["github.com/NVIDIA/TensorRT-LLM"],
  },
  {
    scope: "family+engine",
    key: "hopper/vllm",
    factors: {
      moeComputeEfficiency: 0.25,
      moeLayerLatencyS: 0.00002,
    },
    rows: 28,
    sources: ["buildkite.com/vllm/performance-benchmark", "github.com/gpustack/gpustack"],
  },
  {
    scope: "vendor",
    key: "nvidia",
    factors: {
      moeComputeEfficiency: 0.2,
      moeLayerLatencyS: 0.00002,
    },
    rows: 68,
    sources: [
      "buildkite.com/vllm/performance-benchmark",
      "github.com/NVIDIA/TensorRT-LLM",
      "github.com/gpustack/gpustack",
    ],
  },
  {
    scope: "engine",
    key: "trtllm",
    factors: {
      moeComputeEfficiency: 0.3,
      moeLayerLatencyS: 0.0003,
    },
    rows: 35,
    sources: ["github.com/NVIDIA/TensorRT-LLM"],
  },
  {
    scope: "engine",
    key: "vllm",
    factors: {
      moeComputeEfficiency: 0.25,
      moeLayerLatencyS: 0.00002,
    },
    rows: 29,
    sources: ["buildkite.com/vllm/performance-benchmark", "github.com/gpustack/gpustack"],
  },
  {
    scope: "global",
    key: "all",
    factors: {
      moeComputeEfficiency: 0.2,
      moeLayerLatencyS: 0.00002,
    },
    rows: 68,
    sources: [
      "buildkite.com/vllm/performance-benchmark",
      "github.com/NVIDIA/TensorRT-LLM",
      "github.com/gpustack/gpustack",
    ],
  },
];
