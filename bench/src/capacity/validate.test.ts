import { fileURLToPath } from "node:url";
import { InputError } from "@strata/core";
import { describe, expect, it } from "vitest";
import { parsePublishedCsv, sourceKeyOf } from "./published.js";
import { validatePublishedFile, validatePublishedFiles } from "./run.js";
import { GROUPINGS } from "./validate.js";

const PUBLISHED = fileURLToPath(new URL("../../data/published.csv", import.meta.url));
const PUBLISHED_MOE = fileURLToPath(new URL("../../data/published-moe.csv", import.meta.url));
const HEADER = "model,gpu,nodes,gpus_per_node,dtype,tp,pp,isl,osl,scenario,concurrency,metric,value,source";
const HEADER_ENGINE = `${HEADER},engine`;
const GOOD =
  "llama-3.1-8b,h100,1,1,fp8,1,1,128,2048,offline,,output_tokens_per_s,22714,https://example.org/x";

describe("the performance model against published measurements", () => {
  it("covers both vendors with at least 150 cited rows, throughput and latency", async () => {
    const report = await validatePublishedFile(PUBLISHED);
    expect(report.rows.length).toBeGreaterThanOrEqual(150);
    expect(new Set(report.rows.map((r) => r.vendor))).toEqual(new Set(["amd", "nvidia"]));
    expect(new Set(report.rows.map((r) => r.model)).size).toBeGreaterThanOrEqual(3);
    expect(report.rows.some((r) => r.metric === "ttft_ms")).toBe(true);
    expect(report.rows.some((r) => r.metric === "tpot_ms")).toBe(true);
    for (const row of report.rows) expect(row.source).toMatch(/^https:\/\//);
  });

  it("keeps the shipped model's median absolute error under 25% over bench/data/published.csv", async () => {
    const report = await validatePublishedFile(PUBLISHED);
    for (const row of report.rows.filter((r) => r.fits)) {
      expect(Number.isFinite(row.predicted) && row.predicted > 0).toBe(true);
    }
    console.log(
      `shipped: median absolute error ${report.medianAbsErrorPct.toFixed(1)}% over ${report.rows.length} rows`,
      report.byVendor,
      report.byEngine,
    );
    expect(report.medianAbsErrorPct).toBeLessThan(25);
  });

  it("predicts every source with factors fitted without it, under 25% median error (--cv source)", async () => {
    const [dense, moe] = await validatePublishedFiles([PUBLISHED, PUBLISHED_MOE], "source");
    for (const report of [dense, moe]) {
      if (!report) throw new Error("one report per file");
      for (const row of report.rows) {
        // The honesty of the check: no factor that predicts a row was fitted on its source.
        expect(row.factorSources).not.toContain(row.sourceKey);
        expect(row.moeFactorSources).not.toContain(row.sourceKey);
      }
      for (const [name, by] of Object.entries(GROUPINGS)) {
        const keys = new Set(report.rows.map(by));
        expect(new Set(Object.keys(report[name as keyof typeof GROUPINGS]))).toEqual(keys);
      }
      console.log(
        `--cv source, ${report.file}: median absolute error ${report.medianAbsErrorPct.toFixed(1)}% over ${report.rows.length} rows`,
        report.byVendor,
        report.byEngine,
      );
    }
    if (!dense || !moe) throw new Error("one report per file");
    expect(Object.keys(await validatePublishedFile(PUBLISHED)).sort()).toEqual([
      "byEngine",
      "byVendor",
      "medianAbsErrorPct",
      "rows",
    ]);
    expect(new Set(dense.rows.map((r) => r.sourceKey)).size).toBeGreaterThanOrEqual(8);
    expect(dense.medianAbsErrorPct).toBeLessThan(25);
    // A tracking bound for mixtures of experts (README, "Checked against published results").
    expect(moe.medianAbsErrorPct).toBeLessThan(60);
  });
});

describe("sourceKeyOf", () => {
  it.each([
    [
      "https://github.com/NVIDIA/TensorRT-LLM/blob/00f3768/docs/source/performance/perf-overview.md",
      "github.com/NVIDIA/TensorRT-LLM",
    ],
    [
      "https://github.com/NVIDIA/TensorRT-LLM/blob/01c4ece/docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md",
      "github.com/NVIDIA/TensorRT-LLM",
    ],
    [
      "https://www.amd.com/zh-cn/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
    ],
    [
      "https://www.amd.com/ja/developer/resources/rocm-hub/dev-ai/performance-results.html",
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
    ],
    [
      "https://github.com/ROCm/vllm/blob/040de12/docs/dev-docker/README.md",
      "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html",
    ],
    [
      "https://buildkite.com/vllm/performance-benchmark/builds/9515",
      "buildkite.com/vllm/performance-benchmark",
    ],
    [
      "https://docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance",
      "docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance",
    ],
  ])("merges the pages of one publication: %s", (url, key) => {
    expect(sourceKeyOf(url)).toBe(key);
  });
});

describe("the performance model against published mixture-of-experts measurements", () => {
  it("predicts every row of bench/data/published-moe.csv and reports its error on its own", async () => {
    const report = await validatePublishedFile(PUBLISHED_MOE);
    expect(report.rows.length).toBeGreaterThanOrEqual(60);
    expect(new Set(report.rows.map((r) => r.model))).toEqual(
      new Set(["gpt-oss-120b", "deepseek-r1", "qwen3-235b-a22b", "llama-4-maverick", "mixtral-8x7b"]),
    );
    expect(new Set(report.rows.map((r) => r.gpu)).size).toBeGreaterThanOrEqual(3);
    expect(report.rows.some((r) => r.ep > 1)).toBe(true);
    for (const row of report.rows) {
      expect(row.source).toMatch(/^https:\/\//);
      expect(Number.isFinite(row.predicted) && row.predicted > 0).toBe(true);
      expect(row.moeFactorKey).not.toBeNull();
    }
    console.log(
      `mixture of experts: median absolute error ${report.medianAbsErrorPct.toFixed(1)}% over ${report.rows.length} rows`,
    );
    // Fitted on these rows (the MoE factors), so a tracking bound, not an accuracy claim:
    // the held-out figure is the --cv one above.
    expect(report.medianAbsErrorPct).toBeLessThan(40);
  });
});

describe("parsePublishedCsv", () => {
  it("reads a row and its offline scenario", () => {
    const [row] = parsePublishedCsv(`${HEADER}\n${GOOD}\n`, "f.csv");
    expect(row).toMatchObject({
      line: 2,
      model: "llama-3.1-8b",
      tp: 1,
      concurrency: undefined,
      value: 22714,
    });
  });

  it("loads a file without the engine column, and an empty engine cell, as unknown engine", () => {
    const [without] = parsePublishedCsv(`${HEADER}\n${GOOD}\n`, "f.csv");
    const [empty, named] = parsePublishedCsv(`${HEADER_ENGINE}\n${GOOD},\n${GOOD},trtllm\n`, "f.csv");
    expect(without?.engine).toBeUndefined();
    expect(empty?.engine).toBeUndefined();
    expect(named?.engine).toBe("trtllm");
  });

  it("reads an optional ep column, checking it against tp and the GPUs", () => {
    const header = `${HEADER},engine,ep`;
    const [row] = parsePublishedCsv(
      `${header}\n${GOOD.replace(",1,1,fp8,1,", ",1,8,fp8,1,")},vllm,8\n`,
      "f.csv",
    );
    expect(row).toMatchObject({ ep: 8, tp: 1, gpusPerNode: 8 });
    const [dense] = parsePublishedCsv(`${header}\n${GOOD},vllm,\n`, "f.csv");
    expect(dense?.ep).toBe(1);
    expect(() => parsePublishedCsv(`${header}\n${GOOD},vllm,8\n`, "f.csv")).toThrow(
      "f.csv: row 2, column ep: 8 must be a multiple of tp 1 whose stages (ep × pp) divide the 1 GPUs",
    );
    expect(() => parsePublishedCsv(`${header}\n${GOOD},vllm,x\n`, "f.csv")).toThrow("column ep:");
  });

  it("reads an optional kv_dtype column: the KV cache's format where it differs from the weights", () => {
    const header = `${HEADER},engine,kv_dtype`;
    const [fp8Kv, bf16Kv] = parsePublishedCsv(`${header}\n${GOOD},vllm,\n${GOOD},vllm,bf16\n`, "f.csv");
    expect(fp8Kv?.kvDtype).toBeUndefined();
    expect(bf16Kv?.kvDtype).toBe("bf16");
    expect(() => parsePublishedCsv(`${header}\n${GOOD},vllm,fp4\n`, "f.csv")).toThrow(
      "f.csv: row 2, column kv_dtype:",
    );
  });

  it.each([
    [
      "an unknown engine",
      `${HEADER_ENGINE}\n${GOOD},tgi`,
      "f.csv: row 2, column engine: must be one of vllm, trtllm, sglang, llamacpp or empty",
    ],
    ["a missing column", "model,gpu\nx,y", 'f.csv: row 1: missing column "nodes"'],
    ["a bad integer", `${HEADER}\n${GOOD.replace(",1,1,fp8,1,", ",1,1,fp8,x,")}`, "f.csv: row 2, column tp:"],
    [
      "an unknown metric",
      `${HEADER}\n${GOOD.replace("output_tokens_per_s", "qps")}`,
      "row 2, column metric:",
    ],
    [
      "a server row without concurrency",
      `${HEADER}\n${GOOD.replace("offline", "server")}`,
      "column concurrency:",
    ],
    [
      "a source that is not a URL",
      `${HEADER}\n${GOOD.replace("https://example.org/x", "blog")}`,
      "column source:",
    ],
    ["a short row", `${HEADER}\n${GOOD}\nllama-3.1-8b,h100`, "f.csv: row 3: has 2 fields"],
  ])("rejects %s, naming row and column", (_what, text, message) => {
    expect(() => parsePublishedCsv(text, "f.csv")).toThrow(InputError);
    expect(() => parsePublishedCsv(text, "f.csv")).toThrow(message);
  });
});
