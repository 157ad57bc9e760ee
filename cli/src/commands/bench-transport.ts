import {
  DEFAULT_MESSAGE_SIZES,
  formatTransportReport,
  runTransportBench,
  transportSummary,
} from "@strata/bench";
import { InputError } from "@strata/core";
import { chooseModel, ModelPullError } from "@strata/shard-worker";
import type { Command } from "commander";
import { positiveInt } from "../flags.js";
import { workerCommand } from "../worker-command.js";

interface TransportFlags {
  model?: string;
  stages: number;
  tokens: number;
  repeats: number;
  json?: boolean;
}

/** `strata bench transport`: the gRPC tunnel against llama.cpp's direct RPC and raw TCP. */
export function registerBenchTransport(bench: Command): void {
  bench
    .command("transport")
    .description(
      "Decode tok/s through the gRPC tunnel vs llama.cpp RPC over direct TCP vs one process, and tunnel vs raw loopback TCP throughput for 64 KiB-16 MiB messages, measured in one run",
    )
    .option(
      "--model <name|path>",
      "GGUF file, or a catalog model `strata model pull` fetches, e.g. smollm2-135m (default: a generated 12-layer tiny llama)",
    )
    .option("--stages <n>", "pipeline stages for the split setups", positiveInt, 3)
    .option("--tokens <n>", "tokens generated per measured request", positiveInt, 128)
    .option(
      "--repeats <n>",
      "interleaved rounds, one request per setup each (median reported)",
      positiveInt,
      5,
    )
    .option(
      "--json",
      'print {"decodeRatio", "bulkRatio": {"1MiB", "16MiB"}, "rttRatio", ...} as one JSON object (the table goes to stderr)',
    )
    .action(async (flags: TransportFlags) => {
      const progress = (line: string) => process.stderr.write(`strata: ${line}\n`);
      let modelPath: string | undefined;
      if (flags.model !== undefined) {
        try {
          modelPath = (await chooseModel(flags.model, { log: progress })).path;
        } catch (err: unknown) {
          if (err instanceof ModelPullError) throw new InputError("--model", err.message, { cause: err });
          throw err;
        }
      }
      const result = await runTransportBench({
        modelPath,
        stages: flags.stages,
        tokens: flags.tokens,
        repeats: flags.repeats,
        messageSizes: DEFAULT_MESSAGE_SIZES,
        workerCommand: workerCommand(),
        progress,
      });
      const report = `${formatTransportReport(result, flags.stages)}\n`;
      if (flags.json) {
        // The table still goes to stderr, so one run gives both.
        process.stderr.write(report);
        process.stdout.write(`${JSON.stringify(transportSummary(result))}\n`);
      } else {
        process.stdout.write(report);
      }
    });
}
