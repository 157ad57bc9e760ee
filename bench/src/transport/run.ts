import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { equalStageRanges } from "@strata/core";
import { ensureLlamaCppBinaries, readModelSpec, writeTinyLlamaGguf } from "@strata/shard-worker";
import { type DecodeResult, measureDecodeInterleaved } from "./decode.js";
import { type ServingSetup, startDirectRpc, startOneProcess, startTunnelled } from "./engines.js";
import { countRoundTrips, type RoundTripCount } from "./round-trips.js";
import { type LatencyRow, measureThroughput, type ThroughputRow } from "./throughput.js";

const PROMPT = "The quick brown fox";
export const DEFAULT_MESSAGE_SIZES = [64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024];

export interface TransportBenchOptions {
  /** GGUF to serve; default a generated 12-layer tiny llama. */
  readonly modelPath?: string;
  readonly stages: number;
  readonly tokens: number;
  readonly repeats: number;
  readonly messageSizes: readonly number[];
  /** The `strata worker` command the tunnelled setup's workers run. */
  readonly workerCommand: readonly string[];
  /** Progress lines (stderr). */
  readonly progress: (line: string) => void;
}

export interface TransportBenchResult {
  readonly decode: readonly DecodeResult[];
  readonly sameTokens: boolean;
  /** RPC round trips per token to each stage, counted by the tunnel setup's head. */
  readonly roundTrips: RoundTripCount;
  readonly throughput: readonly ThroughputRow[];
  readonly latency: LatencyRow;
  /** 1-minute load average before and after the run: the machine is shared, hops cost scheduling delay. */
  readonly loadAverage: readonly [number, number];
  readonly cpus: number;
}

/** Runs every measurement in one go, on this machine, and returns the figures. */
export async function runTransportBench(options: TransportBenchOptions): Promise<TransportBenchResult> {
  const binaries = await ensureLlamaCppBinaries({ log: options.progress });
  const loadBefore = loadavg()[0] ?? 0;
  const scratch = await mkdtemp(join(tmpdir(), "strata-bench-transport-"));
  try {
    const modelPath = options.modelPath ?? join(scratch, "tiny.gguf");
    if (!options.modelPath) await writeTinyLlamaGguf(modelPath);
    const stageLayers = equalStageRanges(await readModelSpec(modelPath), options.stages);
    const quiet = () => {};
    // All setups stay up together (the model is small); only one decodes at a time.
    const setups: ServingSetup[] = [];
    let decode: DecodeResult[];
    let roundTrips: RoundTripCount;
    try {
      options.progress("starting: one process, direct RPC, gRPC tunnel, plain relay");
      setups.push(await startOneProcess(binaries, modelPath, quiet));
      setups.push(await startDirectRpc(binaries, modelPath, stageLayers, quiet));
      setups.push(await startTunnelled(binaries, modelPath, stageLayers, options.workerCommand, quiet));
      setups.push(await startDirectRpc(binaries, modelPath, stageLayers, quiet, true));
      options.progress(`measuring decode: ${options.repeats} interleaved rounds of ${options.tokens} tokens`);
      decode = await measureDecodeInterleaved(setups, {
        prompt: PROMPT,
        tokens: options.tokens,
        repeats: options.repeats,
      });
      options.progress("counting round trips per token through the tunnel");
      roundTrips = await countRoundTrips((setups[2] as ServingSetup).url, PROMPT, options.tokens);
    } finally {
      await Promise.all(setups.map((s) => s.stop()));
    }
    const first = decode[0]?.tokens.join(",");
    options.progress("measuring message throughput");
    const { rows, latency } = await measureThroughput(options.messageSizes);
    return {
      decode,
      sameTokens: decode.every((d) => d.tokens.join(",") === first),
      roundTrips,
      throughput: rows,
      latency,
      loadAverage: [loadBefore, loadavg()[0] ?? 0],
      cpus: cpus().length,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`;
}

const MiB = 1024 * 1024;

/** What `strata bench transport --json` prints: the tunnel's ratios to its baselines, measured in one run. */
export interface TransportSummary {
  /** Decode tok/s through the tunnel over llama.cpp RPC on direct TCP. */
  readonly decodeRatio: number;
  /** Tunnel over raw loopback TCP message throughput. */
  readonly bulkRatio: { readonly "1MiB": number; readonly "16MiB": number };
  /** Tunnel 16-byte round trip over raw (the goal is at most 2). */
  readonly rttRatio: number;
  /** Round trips per token to each remote stage, counted. */
  readonly roundTripsPerToken: readonly number[];
  /** Tunnel bytes per token to and from each remote stage. */
  readonly bytesPerToken: readonly { readonly sent: number; readonly received: number }[];
  /** Extra time per token through the tunnel against direct RPC, and per round trip. */
  readonly overheadUsPerToken: number;
  readonly overheadUsPerRoundTrip: number;
  readonly sameTokens: boolean;
  readonly loadAverage: readonly [number, number];
}

export function transportSummary(result: TransportBenchResult): TransportSummary {
  const rate = (name: string) => result.decode.find((d) => d.name === name)?.tokensPerSecond ?? Number.NaN;
  const direct = rate("llama.cpp RPC, direct TCP");
  const tunnel = rate("Strata gRPC tunnel");
  const bulk = (bytes: number) => {
    const row = result.throughput.find((r) => r.sizeBytes === bytes);
    return row ? row.tunnelMiBps / row.rawMiBps : Number.NaN;
  };
  const overheadUsPerToken = 1e6 / tunnel - 1e6 / direct;
  const roundTrips = result.roundTrips.perTokenByStage.reduce((a, b) => a + b, 0);
  return {
    decodeRatio: tunnel / direct,
    bulkRatio: { "1MiB": bulk(MiB), "16MiB": bulk(16 * MiB) },
    rttRatio: result.latency.tunnelRoundTripUs / result.latency.rawRoundTripUs,
    roundTripsPerToken: result.roundTrips.perTokenByStage,
    bytesPerToken: result.roundTrips.bytesPerTokenByStage,
    overheadUsPerToken,
    overheadUsPerRoundTrip: overheadUsPerToken / roundTrips,
    sameTokens: result.sameTokens,
    loadAverage: result.loadAverage,
  };
}

/** The report as printed by `strata bench transport`. */
export function formatTransportReport(result: TransportBenchResult, stages: number): string {
  const lines: string[] = [];
  const byName = new Map(result.decode.map((d) => [d.name, d]));
  const direct = result.decode[1]?.tokensPerSecond ?? Number.NaN;
  lines.push(
    `Machine: ${result.cpus} CPUs, 1-minute load average ${result.loadAverage[0].toFixed(1)} before, ${result.loadAverage[1].toFixed(1)} after`,
  );
  lines.push("");
  lines.push(`Decode, ${stages} pipeline stages on this machine (llama-server timings, median):`);
  lines.push("| setup | tok/s | runs | vs direct RPC |");
  lines.push("| --- | ---: | --- | ---: |");
  for (const d of byName.values()) {
    lines.push(
      `| ${d.name} | ${d.tokensPerSecond.toFixed(1)} | ${d.runs.map((r) => r.toFixed(1)).join(", ")} | ${(d.tokensPerSecond / direct).toFixed(2)} |`,
    );
  }
  lines.push(`Same greedy tokens in every setup: ${result.sameTokens ? "yes" : "NO"}`);
  const summary = transportSummary(result);
  lines.push(
    `Round trips per token, counted by the tunnel: ${summary.roundTripsPerToken.map((n, i) => `stage ${i + 1}: ${n.toFixed(2)} (${Math.round(summary.bytesPerToken[i]?.sent ?? 0)} B out, ${Math.round(summary.bytesPerToken[i]?.received ?? 0)} B back)`).join(", ")}; ` +
      `tunnel overhead ${summary.overheadUsPerToken.toFixed(0)} µs per token, ${summary.overheadUsPerRoundTrip.toFixed(0)} µs per round trip`,
  );
  lines.push("");
  lines.push("Message throughput, tunnel vs raw loopback TCP (send, wait for 1-byte ack):");
  lines.push("| message | raw MiB/s | tunnel MiB/s | tunnel / raw |");
  lines.push("| ---: | ---: | ---: | ---: |");
  for (const row of result.throughput) {
    lines.push(
      `| ${formatSize(row.sizeBytes)} | ${row.rawMiBps.toFixed(0)} | ${row.tunnelMiBps.toFixed(0)} | ${(row.tunnelMiBps / row.rawMiBps).toFixed(2)} |`,
    );
  }
  const l = result.latency;
  lines.push("");
  lines.push(
    `16-byte round trip: raw ${l.rawRoundTripUs.toFixed(0)} µs, tunnel ${l.tunnelRoundTripUs.toFixed(0)} µs (${(l.tunnelRoundTripUs / l.rawRoundTripUs).toFixed(1)}×)`,
  );
  return lines.join("\n");
}
