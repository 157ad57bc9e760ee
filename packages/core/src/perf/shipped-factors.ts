/**
 * The factor table Strata ships: fitted by `bench/src/capacity/fit.ts` on
 * bench/data/published.csv (regenerate with bench/src/capacity/fit-main.ts; the test
 * fit.test.ts refits and fails when this copy differs), one cell per scope that has
 * at least MIN_ROWS_PER_CELL measurements. Each cell lists the sources it depends on;
 * `strata bench capacity --validate FILE --cv source` refits without each source in
 * turn to show how well the factors predict a source they never saw.
 */
import type { FactorTable } from "./efficiency-table.js";

export const SHIPPED_FACTORS: FactorTable = [
  {
    scope: "family+engine",
    key: "cdna3/vllm",
    factors: {
      memoryBandwidth: 0.3,
      decodeCompute: 0.15,
      prefillCompute: 0.3,
    },
    rows: 29,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
    ],
  },
  {
    scope: "family+engine",
    key: "hopper/trtllm",
    factors: {
      memoryBandwidth: 0.8,
      decodeCompute: 0.4,
      prefillCompute: 0.6,
    },
    rows: 132,
    sources: ["github.com/NVIDIA/TensorRT-LLM/docs/source/performance/perf-overview.md"],
  },
  {
    scope: "vendor",
    key: "amd",
    factors: {
      memoryBandwidth: 0.3,
      decodeCompute: 0.15,
      prefillCompute: 0.3,
    },
    rows: 29,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
    ],
  },
  {
    scope: "vendor",
    key: "nvidia",
    factors: {
      memoryBandwidth: 0.8,
      decodeCompute: 0.4,
      prefillCompute: 0.6,
    },
    rows: 142,
    sources: [
      "docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance",
      "github.com/NVIDIA/TensorRT-LLM/docs/source/performance/perf-overview.md",
    ],
  },
  {
    scope: "engine",
    key: "trtllm",
    factors: {
      memoryBandwidth: 0.8,
      decodeCompute: 0.4,
      prefillCompute: 0.6,
    },
    rows: 132,
    sources: ["github.com/NVIDIA/TensorRT-LLM/docs/source/performance/perf-overview.md"],
  },
  {
    scope: "engine",
    key: "vllm",
    factors: {
      memoryBandwidth: 0.3,
      decodeCompute: 0.15,
      prefillCompute: 0.3,
    },
    rows: 29,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
    ],
  },
  {
    scope: "global",
    key: "all",
    factors: {
      memoryBandwidth: 0.8,
      decodeCompute: 0.35,
      prefillCompute: 0.6,
    },
    rows: 171,
    sources: [
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus",
      "docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance",
      "github.com/NVIDIA/TensorRT-LLM/docs/source/performance/perf-overview.md",
    ],
  },
];
