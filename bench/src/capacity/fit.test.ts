import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  CELL_FACTOR_RANGES,
  MOE_CELL_FACTOR_RANGES,
  SHIPPED_FACTORS,
  SHIPPED_MOE_FACTORS,
} from "@strata/core";
import { describe, expect, it } from "vitest";
import { FACTOR_GRIDS, fitTables, MIN_ROWS_PER_CELL, MOE_FACTOR_GRIDS } from "./fit.js";
import { prepareRows } from "./prepared.js";
import { parsePublishedCsv } from "./published.js";

const FILES = ["../../data/published.csv", "../../data/published-moe.csv"].map((f) =>
  fileURLToPath(new URL(f, import.meta.url)),
);

describe("the shipped factor tables", () => {
  it("are exactly what fitting bench/data/published.csv and published-moe.csv gives, so every factor's provenance is its cell's sources", () => {
    const rows = FILES.flatMap((file) =>
      prepareRows(parsePublishedCsv(readFileSync(file, "utf8"), file), file),
    );
    const fitted = fitTables(rows);
    // On mismatch, regenerate with bench/src/capacity/fit-main.ts (README, "The performance model").
    if (JSON.stringify(fitted) !== JSON.stringify({ dense: SHIPPED_FACTORS, moe: SHIPPED_MOE_FACTORS }))
      console.log(JSON.stringify(fitted, null, 2));
    expect(SHIPPED_FACTORS).toEqual(fitted.dense);
    expect(SHIPPED_MOE_FACTORS).toEqual(fitted.moe);
  });

  it("have a cell only where enough rows back it, with values from the documented grids inside each factor's range", () => {
    expect(SHIPPED_FACTORS.some((c) => c.scope === "global")).toBe(true);
    expect(SHIPPED_MOE_FACTORS.some((c) => c.scope === "global")).toBe(true);
    for (const cell of SHIPPED_FACTORS) {
      expect(cell.rows).toBeGreaterThanOrEqual(MIN_ROWS_PER_CELL);
      expect(cell.sources.length).toBeGreaterThan(0);
      for (const [name, value] of Object.entries(cell.factors)) {
        const key = name as keyof typeof FACTOR_GRIDS;
        expect(FACTOR_GRIDS[key]).toContain(value);
        expect(value).toBeGreaterThanOrEqual(CELL_FACTOR_RANGES[key].min);
        expect(value).toBeLessThanOrEqual(CELL_FACTOR_RANGES[key].max);
      }
    }
    for (const cell of SHIPPED_MOE_FACTORS) {
      expect(cell.rows).toBeGreaterThanOrEqual(MIN_ROWS_PER_CELL);
      for (const [name, value] of Object.entries(cell.factors)) {
        const key = name as keyof typeof MOE_FACTOR_GRIDS;
        expect(MOE_FACTOR_GRIDS[key]).toContain(value);
        expect(value).toBeGreaterThanOrEqual(MOE_CELL_FACTOR_RANGES[key].min);
        expect(value).toBeLessThanOrEqual(MOE_CELL_FACTOR_RANGES[key].max);
      }
    }
  });
});
