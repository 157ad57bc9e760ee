import { runLoad } from "@strata/bench";
import type { Command } from "commander";
import { nonNegativeInt, positiveInt, positiveNumber } from "../flags.js";

interface LoadFlags {
  url: string;
  directUrl?: string;
  model?: string;
  rate: number;
  duration: number;
  inputTokens: number;
  outputTokens: number;
  sloTtftMs?: number;
  sloTpotMs?: number;
  seed: number;
  maxInFlight: number;
  apiKey?: string;
  out: string;
  probes: number;
  allowRemote?: boolean;
}

/** `strata bench load`: Poisson load on an OpenAI endpoint; latency percentiles, throughput, goodput. */
export function registerBenchLoad(bench: Command): void {
  bench
    .command("load")
    .description(
      "Load an OpenAI endpoint with Poisson arrivals; print TTFT, TPOT and inter-token latency percentiles, throughput and goodput, and the gateway's added latency against the head (--direct-url)",
    )
    .requiredOption("--url <url>", "endpoint under test, e.g. the gateway http://127.0.0.1:8080")
    .option("--direct-url <url>", "the head behind the gateway, measured in the same run for comparison")
    .option("--model <name>", "served model name (default: the first in /v1/models)")
    .option("--rate <req/s>", "mean arrival rate, requests per second", positiveNumber, 1)
    .option("--duration <s>", "seconds of arrivals", positiveNumber, 30)
    .option("--input-tokens <n>", "prompt length in tokens", positiveInt, 128)
    .option("--output-tokens <n>", "tokens generated per request", positiveInt, 64)
    .option("--slo-ttft-ms <ms>", "time-to-first-token objective for goodput", positiveNumber)
    .option("--slo-tpot-ms <ms>", "time-per-output-token objective for goodput", positiveNumber)
    .option("--seed <n>", "seed for arrivals and prompts", nonNegativeInt, 1)
    .option(
      "--max-in-flight <n>",
      "client-side cap on open requests; arrivals past it count as failed",
      positiveInt,
      256,
    )
    .option("--api-key <key>", "bearer token for the endpoint")
    .option(
      "--probes <n>",
      "with --direct-url: idle probe pairs after the load (0: none)",
      nonNegativeInt,
      200,
    )
    .option("--out <dir>", "where load.svg, load.png and load.json go", "bench/out/load")
    .option("--allow-remote", "allow non-loopback targets")
    .action(async (flags: LoadFlags) => {
      const result = await runLoad({
        url: flags.url,
        directUrl: flags.directUrl,
        model: flags.model,
        ratePerS: flags.rate,
        durationS: flags.duration,
        inputTokens: flags.inputTokens,
        outputTokens: flags.outputTokens,
        sloTtftMs: flags.sloTtftMs,
        sloTpotMs: flags.sloTpotMs,
        seed: flags.seed,
        maxInFlight: flags.maxInFlight,
        apiKey: flags.apiKey,
        outDir: flags.out,
        probes: flags.probes,
        allowRemote: flags.allowRemote,
      });
      process.stdout.write(`${result.table}\n`);
      for (const f of result.files) process.stdout.write(`wrote ${f}\n`);
    });
}
