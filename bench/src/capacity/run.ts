/**
 * `strata bench capacity`: the sweep (tables, Pareto chart) and the validation
 * against published measurements. The CLI parses flags; this module does the work
 * and writes through the given sink so tests can capture it.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  DEFAULT_PLANNING_ENGINE,
  describeResolved,
  InputError,
  type PerfDtype,
  type PlanningEngine,
  resolveShippedEfficiency,
} from "@strata/core";
import { paretoSvg } from "./chart.js";
import { resolveGpu, resolveModel } from "./inputs.js";
import { svgToPng } from "./png.js";
import { prepareRows } from "./prepared.js";
import { type PublishedRow, parsePublishedCsv } from "./published.js";
import { type Fleet, sweepPlans } from "./sweep.js";
import { sweepCsv, sweepMarkdown, validationMarkdown } from "./tables.js";
import { type CvMode, crossValidateBySource, type ValidationReport, validateRows } from "./validate.js";

export interface CapacitySweepArgs {
  readonly model: string;
  /** `16xh100` or a comma-separated list to compare kinds: `16xh100,16xh200`. */
  readonly gpus: string;
  /** A price for every kind (`3.5`) or per kind (`h100=2.99,h200=3.79`). */
  readonly gpuHourUsd?: string | undefined;
  readonly gpusPerNode: number;
  readonly dtype: PerfDtype;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly maxConcurrencyPerReplica: number;
  readonly format: "md" | "csv";
  readonly out?: string | undefined;
  /** The engine the fleet would run; picks the efficiency factors (default vllm). */
  readonly engine?: PlanningEngine | undefined;
}

export type Sink = (text: string) => void;

export function parseFleets(gpus: string, gpuHourUsd: string | undefined): Fleet[] {
  const prices = parsePrices(gpuHourUsd);
  return gpus.split(",").map((part) => {
    const m = /^\s*(\d+)\s*x\s*([A-Za-z0-9-]+)\s*$/.exec(part);
    if (!m) throw new InputError("--gpus", `expected <count>x<gpu> like 16xh100, got "${part.trim()}"`);
    const count = Number(m[1]);
    if (!Number.isSafeInteger(count) || count < 1)
      throw new InputError("--gpus", `count must be positive in "${part}"`);
    const gpu = resolveGpu(m[2] as string, "--gpus");
    const price = prices.get(gpu.name) ?? prices.get("*");
    if (prices.size > 0 && price === undefined)
      throw new InputError("--gpu-hour-usd", `no price for ${gpu.name}`);
    return { gpu, count, gpuHourUsd: price };
  });
}

function parsePrices(text: string | undefined): Map<string, number> {
  const prices = new Map<string, number>();
  if (text === undefined) return prices;
  for (const part of text.split(",")) {
    const [left, right] = part.includes("=") ? part.split("=", 2) : ["*", part];
    const value = Number(right);
    if (right === undefined || right.trim() === "" || !Number.isFinite(value) || value <= 0) {
      throw new InputError(
        "--gpu-hour-usd",
        `expected a positive price or <gpu>=<price>, got "${part.trim()}"`,
      );
    }
    const key = left?.trim() === "*" ? "*" : resolveGpu(left ?? "", "--gpu-hour-usd").name;
    prices.set(key, value);
  }
  return prices;
}

export async function runCapacitySweep(args: CapacitySweepArgs, write: Sink): Promise<void> {
  const model = resolveModel(args.model, args.dtype);
  const fleets = parseFleets(args.gpus, args.gpuHourUsd);
  const engine = args.engine ?? DEFAULT_PLANNING_ENGINE;
  const points = sweepPlans({
    engine,
    model,
    fleets,
    gpusPerNode: args.gpusPerNode,
    dtype: args.dtype,
    inputTokens: args.inputTokens,
    outputTokens: args.outputTokens,
    maxConcurrencyPerReplica: args.maxConcurrencyPerReplica,
  });
  if (points.length === 0) {
    throw new InputError("--gpus", `${model.name} in ${args.dtype} fits no split of ${args.gpus}`);
  }
  const markdown = sweepMarkdown(points);
  const csv = sweepCsv(points);
  const factorNotes = fleets.map(({ gpu }) => {
    const r = resolveShippedEfficiency({ vendor: gpu.vendor, family: gpu.family, engine });
    return `${gpu.name} under ${engine}: ${describeResolved(r, model.moe !== undefined)}`;
  });
  write(args.format === "csv" ? csv : `${markdown}\n\n${factorNotes.join("\n")}\n`);
  if (args.out !== undefined) {
    const title = `${model.name} ${args.dtype}, ${args.inputTokens} in / ${args.outputTokens} out: ${args.gpus}`;
    const svg = paretoSvg(points, title);
    await mkdir(args.out, { recursive: true });
    await writeFile(join(args.out, "capacity.md"), `${markdown}\n`);
    await writeFile(join(args.out, "capacity.csv"), csv);
    await writeFile(join(args.out, "pareto.svg"), svg);
    await writeFile(join(args.out, "pareto.png"), svgToPng(svg));
    write(`\nwrote capacity.md, capacity.csv, pareto.svg, pareto.png to ${args.out}\n`);
  }
}

async function readPublished(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err: unknown) {
    throw new InputError("--validate", `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Plain: the shipped factors applied to each file. With `cv`: leave-one-source-out,
 * refitting on all the files together without the held-out source.
 */
export async function validatePublishedFiles(
  files: readonly string[],
  cv?: CvMode,
): Promise<Array<{ file: string } & ValidationReport>> {
  const parsed: Array<{ file: string; rows: PublishedRow[] }> = [];
  for (const file of files) parsed.push({ file, rows: parsePublishedCsv(await readPublished(file), file) });
  if (cv !== "source") return parsed.map(({ file, rows }) => ({ file, ...validateRows(rows, file) }));
  const prepared = parsed.map(({ file, rows }) => ({ file, rows: prepareRows(rows, file) }));
  const universe = prepared.flatMap((f) => f.rows);
  return prepared.map(({ file, rows }) => ({ file, ...crossValidateBySource(rows, universe) }));
}

/** One file on its own (under --cv, fitted on that file's other sources only). */
export async function validatePublishedFile(file: string, cv?: CvMode): Promise<ValidationReport> {
  const [only] = await validatePublishedFiles([file], cv);
  return validationJson(only as { file: string } & ValidationReport);
}

/**
 * `--validate a.csv[,b.csv…]`: one report per file, each with its own median error, in
 * one output (published.csv for dense models, published-moe.csv for mixtures of experts).
 * JSON: the report for one file; `{reports: [{file, …report}…]}` for several.
 */
export async function runCapacityValidation(
  files: string,
  options: { readonly json: boolean; readonly cv?: CvMode | undefined },
  write: Sink,
): Promise<void> {
  const list = files
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  if (list.length === 0) throw new InputError("--validate", "needs a CSV file");
  const reports = await validatePublishedFiles(list, options.cv);
  const [only] = reports;
  if (options.json) {
    const out = reports.length === 1 && only ? validationJson(only) : { reports };
    write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const title = options.cv === "source" ? "leave-one-source-out" : "shipped factors";
  const sections = reports.map((r) =>
    reports.length === 1 ? validationMarkdown(r, title) : `## ${r.file}\n\n${validationMarkdown(r, title)}`,
  );
  write(`${sections.join("\n\n")}\n`);
}

/** One file's report as before files could be several: without the file name. */
function validationJson({ file: _file, ...report }: { file: string } & ValidationReport): ValidationReport {
  return report;
}
