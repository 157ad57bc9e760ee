/**
 * Fits the factor table (core's efficiency-table.ts) to measurements: for every
 * scope key with enough rows (each (family, engine) pair, each vendor, each engine,
 * and all rows together) it picks the three cell factors that minimise the mean
 * absolute log error of the predictions, by coordinate descent over fixed grids
 * inside each factor's published range. Deterministic; each cell records the rows
 * and sources it was fitted on, so a factor's provenance is exact.
 */
import {
  CELL_FACTORS,
  type CellFactorName,
  type CellFactors,
  DEFAULT_EFFICIENCY,
  type FactorCell,
  type FactorScope,
  type FactorTable,
} from "@strata/core";
import { type PreparedRow, predictRow } from "./prepared.js";

/** A scope needs this many measurements (that the model can place) before it gets a cell. */
export const MIN_ROWS_PER_CELL = 5;

function grid(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let i = 0; from + i * step <= to + 1e-9; i++) out.push(Math.round((from + i * step) * 100) / 100);
  return out;
}

/**
 * Values each factor may take: the ranges measured for each effect (efficiency.ts)
 * widened downwards, because engines off their best-tuned hardware fall below them.
 */
export const FACTOR_GRIDS: Readonly<Record<CellFactorName, readonly number[]>> = {
  memoryBandwidth: grid(0.2, 0.95, 0.05),
  decodeCompute: grid(0.1, 0.8, 0.05),
  prefillCompute: grid(0.1, 0.8, 0.05),
};

const FIT_ROUNDS = 4;

function startFactors(): CellFactors {
  return {
    memoryBandwidth: DEFAULT_EFFICIENCY.memoryBandwidth,
    decodeCompute: DEFAULT_EFFICIENCY.decodeCompute,
    prefillCompute: DEFAULT_EFFICIENCY.prefillCompute,
  };
}

function loss(rows: readonly PreparedRow[], factors: CellFactors): number {
  const eff = { ...DEFAULT_EFFICIENCY, ...factors };
  let sum = 0;
  for (const p of rows) {
    const predicted = predictRow(p, eff) as number; // rows are pre-filtered to fit
    sum += Math.abs(Math.log(predicted / p.row.value));
  }
  return sum / rows.length;
}

/** The cell factors that best predict `rows` (all of which must fit). */
export function fitFactors(rows: readonly PreparedRow[]): CellFactors {
  let best = startFactors();
  let bestLoss = loss(rows, best);
  for (let round = 0; round < FIT_ROUNDS; round++) {
    let changed = false;
    for (const name of CELL_FACTORS) {
      for (const value of FACTOR_GRIDS[name]) {
        if (value === best[name]) continue;
        const candidate = { ...best, [name]: value };
        const l = loss(rows, candidate);
        if (l < bestLoss - 1e-12) {
          best = candidate;
          bestLoss = l;
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  return best;
}

/** The scope keys a row contributes to (a row without an engine feeds no engine scope). */
function keysOf(p: PreparedRow): { scope: FactorScope; key: string }[] {
  const { vendor, family, engine } = p.target;
  const keys: { scope: FactorScope; key: string }[] = [{ scope: "vendor", key: vendor }];
  if (engine !== undefined) {
    keys.unshift({ scope: "family+engine", key: `${family}/${engine}` });
    keys.push({ scope: "engine", key: engine });
  }
  keys.push({ scope: "global", key: "all" });
  return keys;
}

/** True when the model can place the row at all (weights and one sequence fit). */
function placeable(p: PreparedRow): boolean {
  return predictRow(p, DEFAULT_EFFICIENCY) !== undefined;
}

/** One cell per scope key with at least MIN_ROWS_PER_CELL placeable rows. */
export function fitTable(rows: readonly PreparedRow[]): FactorTable {
  const groups = new Map<string, { scope: FactorScope; key: string; rows: PreparedRow[] }>();
  for (const p of rows.filter(placeable)) {
    for (const k of keysOf(p)) {
      const id = `${k.scope}:${k.key}`;
      const group = groups.get(id) ?? { ...k, rows: [] };
      group.rows.push(p);
      groups.set(id, group);
    }
  }
  const cells: FactorCell[] = [];
  for (const g of groups.values()) {
    if (g.rows.length < MIN_ROWS_PER_CELL) continue;
    cells.push({
      scope: g.scope,
      key: g.key,
      factors: fitFactors(g.rows),
      rows: g.rows.length,
      sources: [...new Set(g.rows.map((r) => r.sourceKey))].sort(),
    });
  }
  const order = (c: FactorCell) =>
    `${["family+engine", "vendor", "engine", "global"].indexOf(c.scope)}:${c.key}`;
  return cells.sort((a, b) => order(a).localeCompare(order(b)));
}
