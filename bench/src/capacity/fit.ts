/**
 * Fits the factor tables (core's efficiency-table.ts) to measurements, in two stages:
 *
 * 1. Dense cells on the rows of dense models: for every scope key with enough rows
 *    (each (family, engine) pair, each vendor, each engine, and all rows together)
 *    the five cell factors that minimise the mean absolute log error of the
 *    predictions, each row over its own engine's defaults (its KV-cache sizing).
 * 2. Mixture-of-experts cells on the rows of MoE models: per scope key, the two MoE
 *    factors, each row over the dense factors its own target resolves to from stage 1
 *    (the MoE factors change nothing for a dense model, so dense rows cannot inform them).
 *
 * Both search by coordinate descent over fixed grids inside each factor's range.
 * Deterministic; each cell records the rows and sources it was fitted on, so a
 * factor's provenance is exact (a MoE row's prediction also depends on the dense
 * cell it resolves to, whose sources that cell lists).
 */
import {
  CELL_FACTORS,
  type CellFactorName,
  type CellFactors,
  DEFAULT_EFFICIENCY,
  type EfficiencyFactors,
  engineEfficiency,
  type FactorCell,
  type FactorScope,
  type FactorTable,
  MOE_CELL_FACTORS,
  type MoeCellFactorName,
  type MoeCellFactors,
  type MoeFactorTable,
  resolveEfficiency,
} from "@strata/core";
import { type PreparedRow, predictRow } from "./prepared.js";

/** A scope needs this many measurements (that the model can place) before it gets a cell. */
export const MIN_ROWS_PER_CELL = 5;

function grid(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let i = 0; from + i * step <= to + 1e-9; i++) out.push(Math.round((from + i * step) * 100) / 100);
  return out;
}

/** Microseconds from `from` to `to`, kept in seconds. */
function microseconds(from: number, to: number, step: number): number[] {
  return grid(from, to, step).map((us) => us / 1e6);
}

/**
 * Values each factor may take: the ranges measured for each effect (efficiency.ts)
 * widened downwards, because engines off their best-tuned hardware fall below them.
 */
export const FACTOR_GRIDS: Readonly<Record<CellFactorName, readonly number[]>> = {
  memoryBandwidth: grid(0.2, 0.95, 0.05),
  decodeCompute: grid(0.1, 0.8, 0.05),
  prefillCompute: grid(0.1, 0.8, 0.05),
  layerLatencyS: microseconds(0, 150, 10),
  // Milliseconds per request outside the GPU, 0–100 in steps of 5 (kept in seconds).
  requestOverheadS: grid(0, 100, 5).map((ms) => ms / 1e3),
};

export const MOE_FACTOR_GRIDS: Readonly<Record<MoeCellFactorName, readonly number[]>> = {
  moeComputeEfficiency: grid(0.1, 1, 0.05),
  moeLayerLatencyS: microseconds(0, 400, 20),
};

const FIT_ROUNDS = 4;

/** One stage of the fit: which factors, their grids and start, and what each row is predicted over. */
interface Stage<N extends string> {
  readonly names: readonly N[];
  readonly grids: Readonly<Record<N, readonly number[]>>;
  readonly start: Readonly<Record<N, number>>;
  readonly base: (p: PreparedRow) => EfficiencyFactors;
}

/**
 * Mean absolute log error with every source weighted equally (each row by one over
 * its source's row count): a source is the unit of independence, as in the
 * leave-one-source-out check, so one that publishes a hundred rows does not outvote
 * five that publish ten each.
 */
function loss<N extends string>(
  stage: Stage<N>,
  rows: readonly PreparedRow[],
  factors: Readonly<Record<N, number>>,
): number {
  const perSource = new Map<string, number>();
  for (const p of rows) perSource.set(p.sourceKey, (perSource.get(p.sourceKey) ?? 0) + 1);
  let sum = 0;
  for (const p of rows) {
    const predicted = predictRow(p, { ...stage.base(p), ...factors }) as number; // rows are pre-filtered to fit
    sum += Math.abs(Math.log(predicted / p.row.value)) / (perSource.get(p.sourceKey) as number);
  }
  return sum / perSource.size;
}

/** The stage's factors that best predict `rows` (all of which must fit). */
function fitStage<N extends string>(stage: Stage<N>, rows: readonly PreparedRow[]): Record<N, number> {
  let best: Record<N, number> = { ...stage.start };
  let bestLoss = loss(stage, rows, best);
  for (let round = 0; round < FIT_ROUNDS; round++) {
    let changed = false;
    for (const name of stage.names) {
      for (const value of stage.grids[name]) {
        if (value === best[name]) continue;
        const candidate = { ...best, [name]: value };
        const l = loss(stage, rows, candidate);
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

const DENSE_START: CellFactors = {
  memoryBandwidth: DEFAULT_EFFICIENCY.memoryBandwidth,
  decodeCompute: DEFAULT_EFFICIENCY.decodeCompute,
  prefillCompute: DEFAULT_EFFICIENCY.prefillCompute,
  layerLatencyS: DEFAULT_EFFICIENCY.layerLatencyS,
  requestOverheadS: DEFAULT_EFFICIENCY.requestOverheadS,
};

const MOE_START: MoeCellFactors = {
  moeComputeEfficiency: DEFAULT_EFFICIENCY.moeComputeEfficiency,
  moeLayerLatencyS: DEFAULT_EFFICIENCY.moeLayerLatencyS,
};

function denseStage(): Stage<CellFactorName> {
  return {
    names: CELL_FACTORS,
    grids: FACTOR_GRIDS,
    start: DENSE_START,
    base: (p) => engineEfficiency(p.target.engine),
  };
}

function moeStage(dense: FactorTable): Stage<MoeCellFactorName> {
  return {
    names: MOE_CELL_FACTORS,
    grids: MOE_FACTOR_GRIDS,
    start: MOE_START,
    base: (p) => resolveEfficiency(dense, p.target).factors,
  };
}

/** The dense cell factors that best predict `rows` (all of which must fit). */
export function fitFactors(rows: readonly PreparedRow[]): CellFactors {
  return fitStage(denseStage(), rows);
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
  return predictRow(p, engineEfficiency(p.target.engine)) !== undefined;
}

export function isMoeRow(p: PreparedRow): boolean {
  return p.model.moe !== undefined;
}

/** One cell per scope key with at least MIN_ROWS_PER_CELL placeable rows. */
function fitCells<N extends string>(
  stage: Stage<N>,
  rows: readonly PreparedRow[],
): FactorCell<Readonly<Record<N, number>>>[] {
  const groups = new Map<string, { scope: FactorScope; key: string; rows: PreparedRow[] }>();
  for (const p of rows.filter(placeable)) {
    for (const k of keysOf(p)) {
      const id = `${k.scope}:${k.key}`;
      const group = groups.get(id) ?? { ...k, rows: [] };
      group.rows.push(p);
      groups.set(id, group);
    }
  }
  const cells: FactorCell<Readonly<Record<N, number>>>[] = [];
  for (const g of groups.values()) {
    if (g.rows.length < MIN_ROWS_PER_CELL) continue;
    cells.push({
      scope: g.scope,
      key: g.key,
      factors: fitStage(stage, g.rows),
      rows: g.rows.length,
      sources: [...new Set(g.rows.map((r) => r.sourceKey))].sort(),
    });
  }
  const order = (c: FactorCell<unknown>) =>
    `${["family+engine", "vendor", "engine", "global"].indexOf(c.scope)}:${c.key}`;
  return cells.sort((a, b) => order(a).localeCompare(order(b)));
}

/** Stage 1 alone: the dense table from the dense-model rows among `rows`. */
export function fitTable(rows: readonly PreparedRow[]): FactorTable {
  return fitCells(
    denseStage(),
    rows.filter((p) => !isMoeRow(p)),
  );
}

export interface FittedTables {
  readonly dense: FactorTable;
  readonly moe: MoeFactorTable;
}

/** Both stages: the dense table, then the MoE table over it. */
export function fitTables(rows: readonly PreparedRow[]): FittedTables {
  const dense = fitTable(rows);
  return {
    dense,
    moe: fitCells(
      moeStage(dense),
      rows.filter((p) => isMoeRow(p)),
    ),
  };
}
