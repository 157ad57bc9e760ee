import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SHIPPED_FACTORS } from "@strata/core";
import { describe, expect, it } from "vitest";
import { FACTOR_GRIDS, fitTable, MIN_ROWS_PER_CELL } from "./fit.js";
import { prepareRows } from "./prepared.js";
import { parsePublishedCsv } from "./published.js";

const PUBLISHED = fileURLToPath(new URL("../../data/published.csv", import.meta.url));

describe("the shipped factor table", () => {
  it("is exactly what fitting bench/data/published.csv gives, so every factor's provenance is its cell's sources", () => {
    const rows = prepareRows(parsePublishedCsv(readFileSync(PUBLISHED, "utf8"), PUBLISHED), PUBLISHED);
    const fitted = fitTable(rows);
    // On mismatch, paste this into packages/core/src/perf/shipped-factors.ts.
    if (JSON.stringify(fitted) !== JSON.stringify(SHIPPED_FACTORS))
      console.log(JSON.stringify(fitted, null, 2));
    expect(SHIPPED_FACTORS).toEqual(fitted);
  });

  it("has a cell only where enough rows back it, with values from the documented grids", () => {
    expect(SHIPPED_FACTORS.some((c) => c.scope === "global")).toBe(true);
    for (const cell of SHIPPED_FACTORS) {
      expect(cell.rows).toBeGreaterThanOrEqual(MIN_ROWS_PER_CELL);
      expect(cell.sources.length).toBeGreaterThan(0);
      for (const [name, value] of Object.entries(cell.factors)) {
        expect(FACTOR_GRIDS[name as keyof typeof FACTOR_GRIDS]).toContain(value);
      }
    }
  });
});
