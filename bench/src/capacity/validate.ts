/**
 * Checks the performance model against published measurements: predicts every row's
 * metric from the row's plan and workload and reports the signed error.
 */
import {
  DEFAULT_EFFICIENCY,
  DoesNotFitError,
  type EfficiencyFactors,
  InputError,
  type PerfPrediction,
  predictPerformance,
} from "@strata/core";
import { resolveGpu, resolveModel } from "./inputs.js";
import type { Metric, PublishedRow } from "./published.js";

export interface ValidationRow {
  readonly line: number;
  readonly model: string;
  readonly gpu: string;
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
  readonly predicted: number;
  /** (predicted − measured) / measured × 100. */
  readonly errorPct: number;
  readonly source: string;
}

export interface ValidationReport {
  readonly rows: readonly ValidationRow[];
  readonly medianAbsErrorPct: number;
}

function metricOf(p: PerfPrediction, metric: Metric): number {
  switch (metric) {
    case "output_tokens_per_s":
      return p.outputTokensPerS;
    case "tpot_ms":
      return p.tpotMs;
    case "ttft_ms":
      return p.ttftMs;
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function validateRows(
  rows: readonly PublishedRow[],
  file: string,
  eff: EfficiencyFactors = DEFAULT_EFFICIENCY,
): ValidationReport {
  const out = rows.map((row): ValidationRow => {
    const where = `${file}: row ${row.line}`;
    const model = resolveModel(row.model, row.dtype, `${where}, column model`);
    const gpu = resolveGpu(row.gpu, `${where}, column gpu`);
    const width = row.ep > 1 ? row.ep : row.tp;
    const replicas = (row.nodes * row.gpusPerNode) / (width * row.pp);
    let prediction: PerfPrediction;
    try {
      prediction = predictPerformance(
        model,
        gpu,
        {
          tp: row.tp,
          pp: row.pp,
          ep: row.ep,
          replicas,
          gpusPerNode: row.gpusPerNode,
          weightDtype: row.dtype,
        },
        { inputTokens: row.isl, outputTokens: row.osl, concurrency: row.concurrency },
        eff,
      );
    } catch (err: unknown) {
      if (err instanceof DoesNotFitError)
        throw new InputError(where, `plan does not fit: ${err.message}`, { cause: err });
      throw err;
    }
    const predicted = metricOf(prediction, row.metric);
    return {
      line: row.line,
      model: model.name,
      gpu: gpu.name,
      tp: row.tp,
      pp: row.pp,
      ep: row.ep,
      replicas,
      isl: row.isl,
      osl: row.osl,
      scenario: row.scenario,
      concurrency: row.concurrency ?? null,
      metric: row.metric,
      measured: row.value,
      predicted,
      errorPct: ((predicted - row.value) / row.value) * 100,
      source: row.source,
    };
  });
  return { rows: out, medianAbsErrorPct: median(out.map((r) => Math.abs(r.errorPct))) };
}
