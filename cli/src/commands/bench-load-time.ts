import { resolve } from "node:path";
import { DEFAULT_LOAD_TIME_LAYERS, formatLoadTimeReport, runLoadTimeBench } from "@strata/bench";
import type { Command } from "commander";
import { positiveInt } from "../flags.js";
import { workerCommand } from "../worker-command.js";

interface LoadTimeFlags {
  model?: string;
  layers: number;
  stages: number;
  json?: boolean;
}

/** `strata bench load-time`: model load through direct RPC, the tunnel, and the tunnel with stage caches. */
export function registerBenchLoadTime(bench: Command): void {
  bench
    .command("load-time")
    .description(
      "Seconds from start to ready and bytes through the tunnel for a model of a few GB: llama.cpp RPC over direct TCP, the gRPC tunnel, and the tunnel with stage tensor caches (empty, then full), in one run",
    )
    .option("--model <path>", "GGUF model (default: a generated model of a few GB, kept in the model cache)")
    .option(
      "--layers <n>",
      "layers of the generated model (about 0.66 GiB each)",
      positiveInt,
      DEFAULT_LOAD_TIME_LAYERS,
    )
    .option("--stages <n>", "pipeline stages", positiveInt, 2)
    .option("--json", "print the figures as one JSON object (the table goes to stderr)")
    .action(async (flags: LoadTimeFlags) => {
      const result = await runLoadTimeBench({
        ...(flags.model ? { modelPath: resolve(flags.model) } : {}),
        layers: flags.layers,
        stages: flags.stages,
        workerCommand: workerCommand(),
        progress: (line) => process.stderr.write(`strata: ${line}\n`),
      });
      const report = `${formatLoadTimeReport(result)}\n`;
      if (flags.json) {
        // The table still goes to stderr, so one run gives both.
        process.stderr.write(report);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        process.stdout.write(report);
      }
    });
}
