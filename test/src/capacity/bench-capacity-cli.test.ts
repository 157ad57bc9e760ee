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

  it("prints a markdown validation table ending with the median absolute error", async () => {
    const r = await strata("bench", "capacity", "--validate", PUBLISHED);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\| row \| model \| gpu \|/);
    expect(r.stdout).toMatch(/median absolute error: \d+\.\d% over \d+ rows\n$/);
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
