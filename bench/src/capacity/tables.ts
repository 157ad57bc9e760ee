/** Markdown and CSV renderings of sweep points and validation reports. */
import type { SweepPoint } from "./sweep.js";
import { GROUPINGS, type GroupingName, type ValidationReport } from "./validate.js";

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "";
}

function signed(n: number): string {
  return `${n >= 0 ? "+" : ""}${n.toFixed(1)}`;
}

function markdown(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\n");
}

const SWEEP_HEADER = [
  "gpu",
  "gpus",
  "tp",
  "pp",
  "replicas",
  "concurrency",
  "tokens_per_s_per_gpu",
  "tokens_per_s_per_user",
  "ttft_ms",
  "tpot_ms",
  "usd_per_million_output_tokens",
  "bottleneck",
  "pareto",
] as const;

function sweepCells(p: SweepPoint): string[] {
  return [
    p.gpu,
    String(p.gpus),
    String(p.tp),
    String(p.pp),
    String(p.replicas),
    String(p.concurrency),
    fixed(p.tokensPerSPerGpu, 1),
    fixed(p.tokensPerSPerUser, 1),
    fixed(p.ttftMs, 0),
    fixed(p.tpotMs, 1),
    p.usdPerMillionTokens === undefined ? "" : fixed(p.usdPerMillionTokens, 2),
    p.bottleneck,
    p.pareto ? "yes" : "",
  ];
}

/** Header and rows; an `ep` column after `pp` only when some point uses expert parallelism. */
function sweepTable(points: readonly SweepPoint[]): [string[], string[][]] {
  const rows = points.map(sweepCells);
  if (!points.some((p) => p.ep > 1)) return [[...SWEEP_HEADER], rows];
  const at = SWEEP_HEADER.indexOf("pp") + 1;
  const header: string[] = [...SWEEP_HEADER.slice(0, at), "ep", ...SWEEP_HEADER.slice(at)];
  return [header, rows.map((r, i) => [...r.slice(0, at), String(points[i]?.ep ?? 1), ...r.slice(at)])];
}

export function sweepMarkdown(points: readonly SweepPoint[]): string {
  return markdown(...sweepTable(points));
}

export function sweepCsv(points: readonly SweepPoint[]): string {
  return `${csv(...sweepTable(points))}\n`;
}

const VALIDATION_HEADER = [
  "row",
  "model",
  "gpu",
  "engine",
  "tp×pp×replicas",
  "isl/osl",
  "scenario",
  "metric",
  "measured",
  "predicted",
  "error %",
  "factors",
] as const;

function groupLines(report: ValidationReport, name: GroupingName, label: string): string[] {
  const by = GROUPINGS[name];
  return Object.entries(report[name]).map(([key, pct]) => {
    const n = report.rows.filter((r) => by(r) === key).length;
    return `- ${label} ${key}: ${pct.toFixed(1)}% over ${n} rows`;
  });
}

/** The per-row table, then the medians overall, per vendor and per engine. */
export function validationMarkdown(report: ValidationReport, title: string): string {
  const rows = report.rows.map((r) => [
    String(r.line),
    r.model,
    r.gpu,
    r.engine ?? "",
    `${r.tp}×${r.pp}×${r.replicas}${r.ep > 1 ? ` ep${r.ep}` : ""}`,
    `${r.isl}/${r.osl}`,
    r.scenario === "server" ? `server c=${r.concurrency}` : r.scenario,
    r.metric,
    fixed(r.measured, 1),
    r.fits ? fixed(r.predicted, 1) : "does not fit",
    signed(r.errorPct),
    `${r.factorKey} (${r.factorScope})`,
  ]);
  const summary = [
    `${title}: median absolute error ${report.medianAbsErrorPct.toFixed(1)}% over ${report.rows.length} rows`,
    ...groupLines(report, "byVendor", "vendor"),
    ...groupLines(report, "byEngine", "engine"),
  ];
  return `${markdown(VALIDATION_HEADER, rows)}\n\n${summary.join("\n")}`;
}
