/**
 * A published row resolved once into what the performance model reads (model shape,
 * GPU, layout, workload) and what the factor table is keyed by (vendor, family,
 * engine, source), so fitting can predict it many times cheaply.
 */
import {
  DoesNotFitError,
  type EfficiencyFactors,
  type FactorTarget,
  type GpuSpec,
  type PerfLayout,
  type PerfPrediction,
  type PerfWorkload,
  predictPerformance,
} from "@strata/core";
import { type NamedModel, resolveGpu, resolveMeasuredModel } from "./inputs.js";
import { type Metric, type PublishedRow, sourceKeyOf } from "./published.js";

export interface PreparedRow {
  readonly row: PublishedRow;
  readonly model: NamedModel;
  readonly gpu: GpuSpec;
  readonly layout: PerfLayout;
  readonly workload: PerfWorkload;
  readonly target: FactorTarget;
  /** The publication, revisions merged (see sourceKeyOf). */
  readonly sourceKey: string;
}

export function prepareRows(rows: readonly PublishedRow[], file: string): PreparedRow[] {
  return rows.map((row) => {
    const where = `${file}: row ${row.line}`;
    const model = resolveMeasuredModel(row.model, row.dtype, `${where}, column model`);
    const gpu = resolveGpu(row.gpu, `${where}, column gpu`);
    // Under expert parallelism a stage is the ep group (ep/tp attention ranks of tp GPUs).
    const width = row.ep > 1 ? row.ep : row.tp;
    const replicas = (row.nodes * row.gpusPerNode) / (width * row.pp);
    return {
      row,
      model,
      gpu,
      layout: {
        tp: row.tp,
        pp: row.pp,
        ep: row.ep,
        replicas,
        gpusPerNode: row.gpusPerNode,
        weightDtype: row.dtype,
        ...(row.kvDtype === undefined ? {} : { kvDtype: row.kvDtype }),
      },
      workload: { inputTokens: row.isl, outputTokens: row.osl, concurrency: row.concurrency },
      target: { vendor: gpu.vendor, family: gpu.family, engine: row.engine },
      sourceKey: sourceKeyOf(row.source),
    };
  });
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

/** The row's metric as predicted with `eff`, or undefined when the model says the plan does not fit. */
export function predictRow(p: PreparedRow, eff: EfficiencyFactors): number | undefined {
  try {
    return metricOf(predictPerformance(p.model, p.gpu, p.layout, p.workload, eff), p.row.metric);
  } catch (err: unknown) {
    if (err instanceof DoesNotFitError) return undefined;
    throw err;
  }
}
