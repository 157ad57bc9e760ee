/**
 * Checks the performance model against published measurements: predicts every row's
 * metric from the row's plan and workload and reports the signed error.
 *
 * - Plain: the model as shipped (core's SHIPPED_FACTORS and SHIPPED_MOE_FACTORS)
 *   applied to the file.
 * - `--cv source`: leave-one-source-out. Each source's rows are predicted by tables
 *   refitted on every other source of all the files validated together (dense and
 *   mixture-of-experts measurements both), so no factor has seen the figures it
 *   predicts; a (family, engine) cell that only the held-out source fed is absent, and
 *   the row falls back to the vendor, engine or global cell (each row says which).
 */
import {
  type FactorScope,
  type GpuVendor,
  resolveEfficiency,
  SHIPPED_FACTORS,
  SHIPPED_MOE_FACTORS,
} from "@strata/core";
import { type FittedTables, fitTables, isMoeRow } from "./fit.js";
import { type PreparedRow, predictRow, prepareRows } from "./prepared.js";
import type { Metric, PublishedRow } from "./published.js";

export const CV_MODES = ["source"] as const;
export type CvMode = (typeof CV_MODES)[number];

export interface ValidationRow {
  readonly line: number;
  readonly model: string;
  readonly gpu: string;
  readonly vendor: GpuVendor;
  /** The engine the source names; null where it does not say. */
  readonly engine: string | null;
  readonly tp: number;
  readonly pp: number;
  /** Expert parallelism (1: none). */
  readonly ep: number;
  readonly replicas: number;
  readonly isl: number;
  readonly osl: number;
  readonly scenario: string;
  readonly concurrency: number | null;
  readonly metric: Metric;
  readonly measured: number;
  /** 0 when the model says the plan does not fit (then errorPct is −100). */
  readonly predicted: number;
  /** (predicted − measured) / measured × 100. */
  readonly errorPct: number;
  readonly fits: boolean;
  /** Which factor cell predicted the row: its scope and key (`hopper/trtllm`, `amd`, …). */
  readonly factorScope: FactorScope | "default";
  readonly factorKey: string;
  /** The sources that cell was fitted on; under --cv never the row's own. */
  readonly factorSources: readonly string[];
  /** For a mixture-of-experts model, the MoE cell that predicted it (null for a dense model). */
  readonly moeFactorKey: string | null;
  /** The sources that MoE cell was fitted on; under --cv never the row's own. */
  readonly moeFactorSources: readonly string[];
  readonly source: string;
  readonly sourceKey: string;
}

/** Median absolute error of the rows in each group; a grouping is a function of a row. */
export const GROUPINGS = {
  byVendor: (r: ValidationRow) => r.vendor,
  byEngine: (r: ValidationRow) => r.engine ?? "unknown",
} as const;
export type GroupingName = keyof typeof GROUPINGS;

export interface ValidationReport {
  readonly rows: readonly ValidationRow[];
  readonly medianAbsErrorPct: number;
  readonly byVendor: Readonly<Record<string, number>>;
  readonly byEngine: Readonly<Record<string, number>>;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function medianAbs(rows: readonly ValidationRow[]): number {
  return median(rows.map((r) => Math.abs(r.errorPct)));
}

export function groupMedians(
  rows: readonly ValidationRow[],
  by: (r: ValidationRow) => string,
): Record<string, number> {
  const groups = new Map<string, ValidationRow[]>();
  for (const r of rows) groups.set(by(r), [...(groups.get(by(r)) ?? []), r]);
  return Object.fromEntries([...groups.entries()].sort().map(([k, g]) => [k, medianAbs(g)]));
}

/** The tables Strata ships. */
export const SHIPPED_TABLES: FittedTables = { dense: SHIPPED_FACTORS, moe: SHIPPED_MOE_FACTORS };

function validationRow(p: PreparedRow, tables: FittedTables): ValidationRow {
  const resolved = resolveEfficiency(tables.dense, p.target, { moeTable: tables.moe });
  const moe = isMoeRow(p);
  const predicted = predictRow(p, resolved.factors);
  const { row } = p;
  const fits = predicted !== undefined;
  const value = predicted ?? 0;
  return {
    line: row.line,
    model: p.model.name,
    gpu: p.gpu.name,
    vendor: p.gpu.vendor,
    engine: row.engine ?? null,
    tp: row.tp,
    pp: row.pp,
    ep: row.ep,
    replicas: p.layout.replicas,
    isl: row.isl,
    osl: row.osl,
    scenario: row.scenario,
    concurrency: row.concurrency ?? null,
    metric: row.metric,
    measured: row.value,
    predicted: value,
    errorPct: ((value - row.value) / row.value) * 100,
    fits,
    factorScope: resolved.scope,
    factorKey: resolved.key,
    factorSources: resolved.sources,
    moeFactorKey: moe ? resolved.moe.key : null,
    moeFactorSources: moe ? resolved.moe.sources : [],
    source: row.source,
    sourceKey: p.sourceKey,
  };
}

function report(rows: ValidationRow[]): ValidationReport {
  const sorted = rows.sort((a, b) => a.line - b.line);
  return {
    rows: sorted,
    medianAbsErrorPct: medianAbs(sorted),
    byVendor: groupMedians(sorted, GROUPINGS.byVendor),
    byEngine: groupMedians(sorted, GROUPINGS.byEngine),
  };
}

/** The model as shipped (or with `tables`) applied to every row. */
export function validateRows(
  rows: readonly PublishedRow[],
  file: string,
  tables: FittedTables = SHIPPED_TABLES,
): ValidationReport {
  return report(prepareRows(rows, file).map((p) => validationRow(p, tables)));
}

/**
 * Leave-one-source-out: each source of `rows` predicted by tables fitted on the rows
 * of `universe` (the measurements validated together, `rows` among them) from every
 * other source.
 */
export function crossValidateBySource(
  rows: readonly PreparedRow[],
  universe: readonly PreparedRow[],
): ValidationReport {
  const sources = [...new Set(rows.map((p) => p.sourceKey))];
  const out: ValidationRow[] = [];
  for (const held of sources) {
    const tables = fitTables(universe.filter((p) => p.sourceKey !== held));
    for (const p of rows.filter((q) => q.sourceKey === held)) out.push(validationRow(p, tables));
  }
  return report(out);
}
