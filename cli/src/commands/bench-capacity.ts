import { CV_MODES, type CvMode, runCapacitySweep, runCapacityValidation } from "@strata/bench";
import { DEFAULT_PLANNING_ENGINE, InputError, type PerfDtype, type PlanningEngine } from "@strata/core";
import { type Command, InvalidArgumentError, Option } from "commander";
import { planningEngine, positiveInt } from "../flags.js";

const DTYPES: readonly PerfDtype[] = ["bf16", "fp16", "fp8", "int8", "mxfp4", "int4"];
const DEFAULT_TOKENS = 1000;
const DEFAULT_MAX_CONCURRENCY_PER_REPLICA = 1024;
const DEFAULT_GPUS_PER_NODE = 8;

function dtype(value: string): PerfDtype {
  if (!(DTYPES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${DTYPES.join(", ")}, got "${value}"`);
  }
  return value as PerfDtype;
}

interface CapacityFlags {
  model?: string;
  gpus?: string;
  gpuHourUsd?: string;
  gpusPerNode: number;
  dtype: PerfDtype;
  isl: number;
  osl: number;
  maxConcurrency: number;
  format: "md" | "csv";
  out?: string;
  validate?: string;
  cv?: CvMode;
  json?: boolean;
  engine: PlanningEngine;
}

const write = (text: string): void => {
  process.stdout.write(text);
};

/** `strata bench capacity`: plan sweep with Pareto chart, or validation against published results. */
export function registerBenchCapacity(bench: Command): void {
  bench
    .command("capacity")
    .description(
      "Predict throughput and latency of every tp × pp × replicas split and concurrency for a fleet (tables, Pareto chart), or check the model against published measurements (--validate)",
    )
    .option("--model <name>", "catalog model, e.g. llama-3.1-405b")
    .option("--gpus <fleet>", "<count>x<gpu>, comma-separated to compare: 16xh100,16xh200")
    .option(
      "--gpu-hour-usd <price>",
      "price per GPU-hour: one for all (3.5) or per GPU (h100=2.99,h200=3.79)",
    )
    .option(
      "--gpus-per-node <n>",
      "GPUs per node (tensor parallelism stays inside one)",
      positiveInt,
      DEFAULT_GPUS_PER_NODE,
    )
    .addOption(
      new Option("--dtype <dtype>", `weights and KV cache: ${DTYPES.join(", ")}`)
        .argParser(dtype)
        .default("fp8"),
    )
    .option("--isl <n>", "input (prompt) tokens per request", positiveInt, DEFAULT_TOKENS)
    .option("--osl <n>", "output tokens per request", positiveInt, DEFAULT_TOKENS)
    .option(
      "--max-concurrency <n>",
      "largest concurrency per replica swept (powers of two up to it)",
      positiveInt,
      DEFAULT_MAX_CONCURRENCY_PER_REPLICA,
    )
    .addOption(
      new Option("--format <format>", "table printed on stdout").choices(["md", "csv"]).default("md"),
    )
    .option("--out <dir>", "also write capacity.md, capacity.csv, pareto.svg and pareto.png here")
    .option(
      "--engine <engine>",
      "engine the fleet runs: picks the efficiency factors per GPU family",
      planningEngine,
      DEFAULT_PLANNING_ENGINE,
    )
    .option(
      "--validate <files>",
      "CSV of published measurements to check the model against; comma-separated files are reported one by one",
    )
    .addOption(
      new Option(
        "--cv <mode>",
        "with --validate: leave-one-source-out, each source predicted by factors fitted without it",
      ).choices([...CV_MODES]),
    )
    .option("--json", "with --validate: print {rows, medianAbsErrorPct, byVendor, byEngine} as JSON")
    .action(async (flags: CapacityFlags) => {
      if (flags.validate !== undefined) {
        if (flags.model !== undefined || flags.gpus !== undefined) {
          throw new InputError("--validate", "takes the plans from the file; drop --model and --gpus");
        }
        await runCapacityValidation(flags.validate, { json: flags.json === true, cv: flags.cv }, write);
        return;
      }
      if (flags.json) throw new InputError("--json", "only applies with --validate");
      if (flags.cv !== undefined) throw new InputError("--cv", "only applies with --validate");
      if (flags.model === undefined) throw new InputError("--model", "is required (or --validate FILE)");
      if (flags.gpus === undefined) throw new InputError("--gpus", "is required, e.g. 16xh100");
      await runCapacitySweep(
        {
          model: flags.model,
          gpus: flags.gpus,
          gpuHourUsd: flags.gpuHourUsd,
          gpusPerNode: flags.gpusPerNode,
          dtype: flags.dtype,
          inputTokens: flags.isl,
          outputTokens: flags.osl,
          maxConcurrencyPerReplica: flags.maxConcurrency,
          format: flags.format,
          out: flags.out,
          engine: flags.engine,
        },
        write,
      );
    });
}
