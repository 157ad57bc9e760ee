import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { strata } from "../cli/plan-fixtures.js";

const PUBLISHED = fileURLToPath(new URL("../../../bench/data/published.csv", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "strata-capacity-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("strata bench capacity, as a user runs it", () => {
  it("validates the shipped measurements and prints JSON rows with the median error", async () => {
    const r = await strata("bench", "capacity", "--validate", PUBLISHED, "--json");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      rows: Array<Record<string, unknown>>;
      medianAbsErrorPct: number;
    };
    const dataLines = readFileSync(PUBLISHED, "utf8").trim().split("\n").length - 1;
    expect(report.rows).toHaveLength(dataLines);
    for (const row of report.rows) {
      expect(typeof row.predicted).toBe("number");
      expect(typeof row.errorPct).toBe("number");
      expect(row.source).toMatch(/^https:\/\//);
    }
    expect(report.medianAbsErrorPct).toBeLessThan(25);
  });

  it("prints a markdown validation table, then the median absolute error overall, per vendor and per engine", async () => {
    const r = await strata("bench", "capacity", "--validate", PUBLISHED);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\| row \| model \| gpu \| engine \|/);
    expect(r.stdout).toMatch(/\nshipped factors: median absolute error \d+\.\d% over \d+ rows\n/);
    expect(r.stdout).toMatch(/\n- vendor amd: \d+\.\d% over \d+ rows\n- vendor nvidia: /);
    expect(r.stdout).toMatch(/\n- engine trtllm: \d+\.\d% over \d+ rows\n/);
  });

  it("validates leave-one-source-out with --cv source: JSON of rows, overall, per vendor and per engine", async () => {
    const r = await strata("bench", "capacity", "--validate", PUBLISHED, "--cv", "source", "--json");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      rows: { sourceKey: string; factorSources: string[] }[];
      medianAbsErrorPct: number;
      byVendor: Record<string, number>;
      byEngine: Record<string, number>;
    };
    expect(Object.keys(report).sort()).toEqual(["byEngine", "byVendor", "medianAbsErrorPct", "rows"]);
    expect(Object.keys(report.byVendor).sort()).toEqual(["amd", "nvidia"]);
    for (const row of report.rows) expect(row.factorSources).not.toContain(row.sourceKey);
    expect(report.medianAbsErrorPct).toBeLessThan(25);
  });

  it("says which factor cell each fleet's engine resolves to (vllm by default)", async () => {
    const byDefault = await strata(
      "bench",
      "capacity",
      "--model",
      "llama-3.1-8b",
      "--gpus",
      "1xh100,8xmi300x",
    );
    expect(byDefault.status).toBe(0);
    expect(byDefault.stdout).toMatch(
      /\nh100-sxm-80g under vllm: hopper\/vllm factors \(family\+engine scope, fitted on \d+ sources?\)/,
    );
    expect(byDefault.stdout).toMatch(/\nmi300x under vllm: cdna3\/vllm factors \(family\+engine scope, /);
    const trtllm = await strata(
      "bench",
      "capacity",
      "--model",
      "llama-3.1-8b",
      "--gpus",
      "1xh100",
      "--engine",
      "trtllm",
    );
    expect(trtllm.stdout).toMatch(
      /\nh100-sxm-80g under trtllm: hopper\/trtllm factors \(family\+engine scope, /,
    );
  });

  it("rejects --cv without --validate, and an unknown engine, in one line, exit 2", async () => {
    const cv = await strata(
      "bench",
      "capacity",
      "--model",
      "llama-3.1-8b",
      "--gpus",
      "1xh100",
      "--cv",
      "source",
    );
    expect(cv.status).toBe(2);
    expect(cv.stderr).toBe("strata: --cv: only applies with --validate\n");
    const engine = await strata(
      "bench",
      "capacity",
      "--model",
      "llama-3.1-8b",
      "--gpus",
      "1xh100",
      "--engine",
      "tgi",
    );
    expect(engine.status).toBe(2);
    expect(engine.stderr.split("\n")).toHaveLength(2);
    expect(engine.stderr).toMatch(/--engine.*must be one of vllm, trtllm, sglang, llamacpp, got "tgi"/);
  });

  it("rejects a bad CSV with one line naming the row and column, exit 2", async () => {
    const lines = readFileSync(PUBLISHED, "utf8").split("\n");
    lines[2] = (lines[2] ?? "").replace(",fp8,8,1,", ",fp8,eight,1,");
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, lines.join("\n"));
    const r = await strata("bench", "capacity", "--validate", bad);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`strata: ${bad}: row 3, column tp: must be a positive integer, got "eight"\n`);
  });

  it("sweeps a fleet into tables and a Pareto chart as SVG and PNG", async () => {
    const out = join(dir, "sweep");
    const r = await strata(
      "bench",
      "capacity",
      "--model",
      "llama-3.1-70b",
      "--gpus",
      "8xh100,8xh200",
      "--gpu-hour-usd",
      "h100=2,h200=3",
      "--max-concurrency",
      "64",
      "--out",
      out,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\| h100-sxm-80g \| 8 \| 8 \| 1 \| 1 \| 64 \|/);
    const csv = readFileSync(join(out, "capacity.csv"), "utf8").split("\n");
    expect(csv[0]).toBe(
      "gpu,gpus,tp,pp,replicas,concurrency,tokens_per_s_per_gpu,tokens_per_s_per_user,ttft_ms,tpot_ms,usd_per_million_output_tokens,bottleneck,pareto",
    );
    expect(csv.filter((l) => l.endsWith(",yes")).length).toBeGreaterThan(2);
    expect(readFileSync(join(out, "pareto.svg"), "utf8")).toMatch(
      /^<svg[\s\S]*8× h200-141g[\s\S]*<\/svg>\n$/,
    );
    const png = readFileSync(join(out, "pareto.png"));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it("names a bad fleet in one line, exit 2", async () => {
    const r = await strata("bench", "capacity", "--model", "llama-3.1-405b", "--gpus", "8xb9000");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^strata: --gpus: unknown GPU "b9000"; known: [^\n]+\n$/);
  });
});
