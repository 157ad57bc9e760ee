/**
 * Reads a CSV of published measurements, one per row:
 * model,gpu,nodes,gpus_per_node,dtype,tp,pp,isl,osl,scenario,concurrency,metric,value,source,engine
 * The last column, `engine`, is optional (files without it still load) and may be
 * empty where the source does not say which engine ran. So is `ep`, the expert
 * parallelism of a mixture-of-experts row (empty or absent: 1), and `kv_dtype`, the
 * KV-cache format where the run's command line sets one different from the weights
 * (empty or absent: the weight dtype).
 * Strict: any bad cell fails the whole file with an InputError naming the file,
 * the row (line number, header = 1) and the column.
 */
import {
  InputError,
  isPlanningEngine,
  type PerfDtype,
  PLANNING_ENGINES,
  type PlanningEngine,
} from "@strata/core";

export const PUBLISHED_COLUMNS = [
  "model",
  "gpu",
  "nodes",
  "gpus_per_node",
  "dtype",
  "tp",
  "pp",
  "isl",
  "osl",
  "scenario",
  "concurrency",
  "metric",
  "value",
  "source",
] as const;
/** Columns a file may leave out. */
export const OPTIONAL_COLUMNS = ["engine", "ep", "kv_dtype"] as const;
type Column = (typeof PUBLISHED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];

export const METRICS = ["output_tokens_per_s", "tpot_ms", "ttft_ms"] as const;
export type Metric = (typeof METRICS)[number];
export const SCENARIOS = ["offline", "server"] as const;
export type Scenario = (typeof SCENARIOS)[number];
const DTYPES: readonly PerfDtype[] = ["bf16", "fp16", "fp8", "int8", "mxfp4", "int4"];

export interface PublishedRow {
  /** Line in the file (header is line 1). */
  readonly line: number;
  readonly model: string;
  readonly gpu: string;
  readonly nodes: number;
  readonly gpusPerNode: number;
  readonly dtype: PerfDtype;
  readonly tp: number;
  readonly pp: number;
  readonly isl: number;
  readonly osl: number;
  readonly scenario: Scenario;
  /** Requests in flight; undefined for offline rows. */
  readonly concurrency: number | undefined;
  readonly metric: Metric;
  readonly value: number;
  readonly source: string;
  /** Undefined where the file has no engine column or the cell is empty. */
  readonly engine: PlanningEngine | undefined;
  /**
   * Expert parallelism of a mixture-of-experts row (1 without it): the GPUs of a
   * stage that share the routed experts, attention on ep/tp data-parallel ranks.
   */
  readonly ep: number;
  /** KV-cache format; undefined: the same as the weights (`dtype`). */
  readonly kvDtype: PerfDtype | undefined;
}

/** Splits one CSV line; fields may be double-quoted with "" as an escaped quote. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else field += ch;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

export function parsePublishedCsv(text: string, file: string): PublishedRow[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? "");
  const index = new Map<string, number>(header.map((name, i) => [name, i]));
  for (const column of PUBLISHED_COLUMNS) {
    if (!index.has(column)) throw new InputError(`${file}: row 1`, `missing column "${column}"`);
  }
  const rows: PublishedRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    if (raw.trim() === "") continue;
    rows.push(parseRow(splitCsvLine(raw), index, header.length, `${file}: row ${i + 1}`, i + 1));
  }
  if (rows.length === 0) throw new InputError(file, "has no data rows");
  return rows;
}

function parseRow(
  cells: string[],
  index: Map<string, number>,
  width: number,
  where: string,
  line: number,
): PublishedRow {
  if (cells.length !== width) {
    throw new InputError(where, `has ${cells.length} fields, the header has ${width}`);
  }
  const cell = (c: Column): string => {
    const at = index.get(c);
    return at === undefined ? "" : (cells[at] ?? "");
  };
  const fail = (c: Column, message: string): never => {
    throw new InputError(`${where}, column ${c}`, message);
  };
  const int = (c: Column): number => {
    const v = cell(c);
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1)
      fail(c, `must be a positive integer, got "${v}"`);
    return n;
  };
  const oneOf = <T extends string>(c: Column, allowed: readonly T[]): T => {
    const v = cell(c);
    if (!(allowed as readonly string[]).includes(v))
      fail(c, `must be one of ${allowed.join(", ")}, got "${v}"`);
    return v as T;
  };
  const text = (c: Column): string => {
    const v = cell(c);
    if (v === "") fail(c, "is empty");
    return v;
  };

  const scenario = oneOf("scenario", SCENARIOS);
  let concurrency: number | undefined;
  if (scenario === "server") concurrency = int("concurrency");
  else if (cell("concurrency") !== "") fail("concurrency", "must be empty for offline rows");
  const valueText = cell("value");
  const value = Number(valueText);
  if (valueText === "" || !Number.isFinite(value) || value <= 0) {
    fail("value", `must be a positive number, got "${valueText}"`);
  }
  const source = text("source");
  if (!/^https?:\/\/\S+$/.test(source)) fail("source", `must be an http(s) URL, got "${source}"`);

  const engineText = cell("engine");
  if (engineText !== "" && !isPlanningEngine(engineText))
    fail("engine", `must be one of ${PLANNING_ENGINES.join(", ")} or empty, got "${engineText}"`);
  const engine = engineText === "" ? undefined : (engineText as PlanningEngine);
  const ep = cell("ep") === "" ? 1 : int("ep");
  const kvDtype = cell("kv_dtype") === "" ? undefined : oneOf("kv_dtype", DTYPES);

  const row: PublishedRow = {
    line,
    model: text("model"),
    gpu: text("gpu"),
    nodes: int("nodes"),
    gpusPerNode: int("gpus_per_node"),
    dtype: oneOf("dtype", DTYPES),
    tp: int("tp"),
    pp: int("pp"),
    isl: int("isl"),
    osl: int("osl"),
    scenario,
    concurrency,
    metric: oneOf("metric", METRICS),
    value,
    source,
    engine,
    ep,
    kvDtype,
  };
  const gpus = row.nodes * row.gpusPerNode;
  if (gpus % (row.tp * row.pp) !== 0) {
    fail("tp", `tp × pp = ${row.tp * row.pp} does not divide the ${gpus} GPUs (nodes × gpus_per_node)`);
  }
  if (ep > 1 && (ep % row.tp !== 0 || gpus % (ep * row.pp) !== 0)) {
    fail("ep", `${ep} must be a multiple of tp ${row.tp} whose stages (ep × pp) divide the ${gpus} GPUs`);
  }
  return row;
}

/**
 * Addresses (key prefixes) that are one publication with another: AMD's ROCm vLLM
 * container README carries the performance tables of AMD's ROCm performance-results
 * page (same team, method and container line); every build of vLLM's performance
 * benchmark pipeline on Buildkite runs the same suite.
 */
const SAME_PUBLICATION: ReadonlyArray<readonly [prefix: string, key: string]> = [
  ["github.com/ROCm/vllm", "amd.com/developer/resources/rocm-hub/dev-ai/performance-results.html"],
  ["buildkite.com/vllm/performance-benchmark/", "buildkite.com/vllm/performance-benchmark"],
];

/**
 * The publication a row comes from, for leave-one-source-out validation. A GitHub
 * repository is one source, whatever file or commit a row cites: its pages share a
 * publisher, a method and a software line (TensorRT-LLM's performance overview and
 * its blog posts; a benchmark repository's raw result files). An amd.com page is
 * one source in every language edition. Other hosts: the URL without query.
 */
export function sourceKeyOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  let path = u.pathname.replace(/\/+$/, "");
  if (u.hostname === "github.com") path = (/^\/[^/]+\/[^/]+/.exec(path) ?? [path])[0];
  if (u.hostname.endsWith("amd.com")) path = path.replace(/^\/[a-z]{2}(-[a-z]{2})?\//, "/");
  const key = `${u.hostname.replace(/^www\./, "")}${path}`;
  return SAME_PUBLICATION.find(([prefix]) => key.startsWith(prefix))?.[1] ?? key;
}
