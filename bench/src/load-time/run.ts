/**
 * `strata bench load-time`: seconds from start to ready, and bytes through
 * the tunnel, for a generated model of a few GB split into pipeline stages,
 * loaded four ways in one run: llama.cpp's own RPC over direct loopback TCP;
 * Strata's gRPC tunnel; the tunnel with stage tensor caches, first with an
 * empty cache (the stages fill it from the model file before the head
 * loads), then with the cache a previous start left (a restart or recovery).
 * A benchmark, never run in CI.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { equalStageRanges, type LayerRange } from "@strata/core";
import {
  ensureLlamaCppBinaries,
  type LlamaCppBinaries,
  modelCacheDir,
  readModelSpec,
  writeTinyLlamaGguf,
} from "@strata/shard-worker";
import { headTunnelFigures, total } from "../head-metrics.js";
import { type ServingSetup, startDirectRpc, startTunnelled } from "../transport/engines.js";

/** The generated model: llama shape with 4096-wide layers in f32, about 0.66 GiB per layer. */
export const LOAD_TIME_MODEL_SHAPE = {
  hidden: 4096,
  heads: 32,
  kvHeads: 8,
  ffn: 11008,
  tensorType: "f32",
} as const;
export const DEFAULT_LOAD_TIME_LAYERS = 4;

export interface LoadTimeOptions {
  /** GGUF to load; default a generated model of `layers` layers (kept in the model cache). */
  readonly modelPath?: string;
  readonly layers: number;
  readonly stages: number;
  /** The `strata worker` command the tunnelled setups' workers run. */
  readonly workerCommand: readonly string[];
  readonly progress: (line: string) => void;
}

/** The figures `--json` prints; seconds are wall time from starting the processes to the head answering. */
export interface LoadTimeResult {
  readonly modelBytes: number;
  readonly directS: number;
  readonly tunnelS: number;
  /** With stage caches a previous start filled (restart, recovery). */
  readonly cachedS: number;
  /** With empty stage caches: the stages fill them from the model first. */
  readonly cachedColdS: number;
  /** Bytes the head sent through the tunnel while loading, all stages. */
  readonly tunnelBytes: number;
  readonly cachedTunnelBytes: number;
  /** What the stages' caches hold (a second copy of their large weights on disk). */
  readonly cacheBytes: number;
  /** Seconds the stages spent filling their caches in the cold start (read, hash, write), longest stage. */
  readonly cacheFillS: number;
  /** Seconds the head waited on stages' replies during the warm cached load (the rest is the head's own reading and hashing). */
  readonly cachedHeadWaitS: number;
  readonly stages: number;
  readonly loadAverage: readonly [number, number];
  readonly cpus: number;
}

/** The default model, generated once into the model cache. */
async function generatedModel(layers: number, progress: (line: string) => void): Promise<string> {
  const dir = modelCacheDir();
  const s = LOAD_TIME_MODEL_SHAPE;
  const path = join(dir, `load-time-${layers}L-${s.hidden}d-${s.tensorType}.gguf`);
  if (!existsSync(path)) {
    await mkdir(dir, { recursive: true });
    progress(`generating ${path} (once; a few GB)`);
    await writeTinyLlamaGguf(path, { ...s, layers });
  }
  return path;
}

async function timed<T>(start: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const began = performance.now();
  const value = await start();
  return { value, seconds: (performance.now() - began) / 1000 };
}

interface StageCacheReport {
  readonly enabled?: boolean;
  readonly bytes?: number;
  readonly seconds?: number;
}

/** Each remote stage's /readyz report of its cache (the local supervisor's workers). */
async function stageCacheReports(setup: ServingSetup) {
  const reports: StageCacheReport[] = [];
  for (const url of setup.stageUrls ?? []) {
    const body = (await (await fetch(`${url}/readyz`)).json()) as { rpcCache?: StageCacheReport };
    reports.push(body.rpcCache ?? {});
  }
  return reports;
}

export async function runLoadTimeBench(options: LoadTimeOptions): Promise<LoadTimeResult> {
  const binaries: LlamaCppBinaries = await ensureLlamaCppBinaries({ log: options.progress });
  const modelPath = options.modelPath ?? (await generatedModel(options.layers, options.progress));
  const modelBytes = (await stat(modelPath)).size;
  const stageLayers: LayerRange[] = equalStageRanges(await readModelSpec(modelPath), options.stages);
  const scratch = await mkdtemp(join(tmpdir(), "strata-bench-load-time-"));
  const loadBefore = loadavg()[0] ?? 0;
  const quiet = () => {};
  try {
    options.progress("loading over llama.cpp RPC, direct TCP");
    const direct = await timed(() => startDirectRpc(binaries, modelPath, stageLayers, quiet));
    await direct.value.stop();

    options.progress("loading over the gRPC tunnel");
    const tunnel = await timed(() =>
      startTunnelled(binaries, modelPath, stageLayers, options.workerCommand, quiet),
    );
    const tunnelFigures = await headTunnelFigures(tunnel.value.url);
    await tunnel.value.stop();

    const cacheDir = join(scratch, "rpc-cache");
    const rpcCache = { where: { dir: cacheDir } };
    options.progress("loading over the gRPC tunnel, stage caches empty (the stages fill them first)");
    const cold = await timed(() =>
      startTunnelled(binaries, modelPath, stageLayers, options.workerCommand, quiet, rpcCache),
    );
    const coldReports = await stageCacheReports(cold.value);
    await cold.value.stop();

    options.progress("loading over the gRPC tunnel, stage caches full (a restart)");
    const warm = await timed(() =>
      startTunnelled(binaries, modelPath, stageLayers, options.workerCommand, quiet, rpcCache),
    );
    const warmFigures = await headTunnelFigures(warm.value.url);
    const warmReports = await stageCacheReports(warm.value);
    await warm.value.stop();

    if (warmReports.some((r) => r.enabled !== true)) {
      throw new Error(`a stage ran without its cache: ${JSON.stringify(warmReports)}`);
    }
    return {
      modelBytes,
      directS: direct.seconds,
      tunnelS: tunnel.seconds,
      cachedS: warm.seconds,
      cachedColdS: cold.seconds,
      tunnelBytes: total(tunnelFigures.bytesSent),
      cachedTunnelBytes: total(warmFigures.bytesSent),
      cacheBytes: warmReports.reduce((sum, r) => sum + (r.bytes ?? 0), 0),
      cacheFillS: Math.max(0, ...coldReports.map((r) => r.seconds ?? 0)),
      cachedHeadWaitS: total(warmFigures.waitSeconds),
      stages: options.stages,
      loadAverage: [loadBefore, loadavg()[0] ?? 0],
      cpus: cpus().length,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const GiB = 1024 ** 3;

/** The report as `strata bench load-time` prints it without --json. */
export function formatLoadTimeReport(r: LoadTimeResult): string {
  const rows: [string, number, number | undefined][] = [
    ["llama.cpp RPC, direct TCP", r.directS, undefined],
    ["Strata gRPC tunnel", r.tunnelS, r.tunnelBytes],
    ["tunnel + stage caches, empty (filled first)", r.cachedColdS, undefined],
    ["tunnel + stage caches, full (restart)", r.cachedS, r.cachedTunnelBytes],
  ];
  return [
    `Machine: ${r.cpus} CPUs, 1-minute load average ${r.loadAverage[0].toFixed(1)} before, ${r.loadAverage[1].toFixed(1)} after`,
    `Model: ${(r.modelBytes / GiB).toFixed(2)} GiB in ${r.stages} stages`,
    "",
    "| setup | start to ready, s | vs tunnel | bytes through the tunnel |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map(
      ([name, s, bytes]) =>
        `| ${name} | ${s.toFixed(1)} | ${(s / r.tunnelS).toFixed(2)} | ${bytes === undefined ? "" : `${(bytes / GiB).toFixed(3)} GiB`} |`,
    ),
    "",
    `Stage caches: ${(r.cacheBytes / GiB).toFixed(2)} GiB on disk; filling took ${r.cacheFillS.toFixed(1)} s (longest stage).`,
    `Full-cache load: the head waited ${r.cachedHeadWaitS.toFixed(1)} s on stages; the rest is its own reading and hashing.`,
    `Goal cachedS <= 0.25 x tunnelS: ${r.cachedS <= 0.25 * r.tunnelS ? "met" : "not met"} (${(r.cachedS / r.tunnelS).toFixed(2)}).`,
  ].join("\n");
}
