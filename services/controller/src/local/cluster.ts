/**
 * The local supervisor: one replica's stage workers as processes on this
 * machine, started through the same worker contract the controller writes
 * into pods. Stages start first, then the head, which dials their tunnels.
 */

import { rm } from "node:fs/promises";
import { cpus } from "node:os";
import { type Engine, type LayerRange, workerEnv } from "@strata/core";
import { loopbackGroup } from "./loopback-group.js";
import { privateRpcCacheRoot, stageRpcCacheDir } from "./rpc-cache-dirs.js";
import { type LocalVllmOptions, startVllmLocalCluster } from "./vllm-cluster.js";
import { type ReadyReport, WorkerProcess } from "./worker-process.js";

export interface LocalClusterOptions {
  /** The worker command, e.g. [node, strata.js, "worker"]. */
  readonly workerCommand: readonly string[];
  readonly deployment: string;
  readonly engine: Engine;
  readonly modelPath: string;
  readonly servedName: string;
  /** One range per stage; stage 0 is the head. */
  readonly stageLayers: readonly LayerRange[];
  readonly maxModelLength: number;
  /** The engine's programs (STRATA_ENGINE_HOME); the worker's default when undefined. */
  readonly engineHome?: string;
  /** Workers join this control plane; they run alone when undefined. */
  readonly natsUrl?: string;
  /** Worker and engine output, one line at a time, already prefixed. */
  readonly log: (line: string) => void;
  /** Short progress lines for the user. */
  readonly progress: (line: string) => void;
  /** How long the head may take to load the model. */
  readonly headReadyTimeoutMs?: number;
  /** Required for the vllm engine. */
  readonly vllm?: LocalVllmOptions;
  /**
   * llama.cpp stages fill ggml-rpc-server tensor caches from the model file
   * before the head loads (every local stage can read it), so the weights do
   * not cross the tunnel. Absent: no caches.
   */
  readonly rpcCache?: LocalRpcCache;
}

export interface LocalRpcCache {
  /**
   * `{ dir }`: stage folders under `dir`, kept after the run (a restart
   * finds them full; they are cleaned when the model changes).
   * `{ privateUnder }`: a folder of this run's own under it, removed at stop.
   */
  readonly where: { readonly dir: string } | { readonly privateUnder: string };
  /** Bound per stage, in bytes. */
  readonly maxBytes?: number;
}

export interface LocalWorker {
  readonly stage: number;
  readonly process: WorkerProcess;
  readonly httpPort: number;
}

export interface RunningCluster {
  /** The head's HTTP port: the replica's OpenAI API and its /readyz. */
  readonly headUrl: string;
  readonly workers: readonly LocalWorker[];
  /** What the head's /readyz reported when it turned ready (placement, tunnels). */
  readonly headReport: ReadyReport;
  /**
   * Resolves when the cluster is broken for good: llama.cpp, when any worker
   * exits unexpectedly; vLLM, when a restarted group does not come back.
   */
  readonly broken: Promise<string>;
  /** vLLM: times the whole group was restarted after a member exited. */
  readonly groupRestarts?: number;
  stop(): Promise<void>;
}

const STAGE_READY_TIMEOUT_MS = 60_000;
/** A stage filling its tensor cache reads and writes its share of the model first. */
const CACHING_STAGE_READY_TIMEOUT_MS = 600_000;
const HEAD_READY_TIMEOUT_MS = 600_000;

/**
 * Threads per engine when every stage shares this machine's cores. More
 * threads than that make ggml's spin barriers burn the CPU the other stages
 * and the tunnel processes need (on 2 cores and 3 stages, 2 threads per engine
 * measured several times slower than 1).
 */
export function threadsPerStage(stages: number): number {
  return Math.max(1, Math.floor(cpus().length / stages));
}

/** What a stage's /readyz says about its tensor cache, for the progress line. */
function cacheLine(report: unknown): string {
  const cache = report as
    | { enabled?: boolean; bytes?: number; writtenBytes?: number; seconds?: number }
    | undefined;
  if (cache?.enabled !== true) return cache === undefined ? "" : ", no tensor cache";
  const gib = (bytes = 0) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  return `, tensor cache ${gib(cache.bytes)} (${gib(cache.writtenBytes)} written in ${(cache.seconds ?? 0).toFixed(1)} s)`;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<RunningCluster> {
  if (options.engine === "vllm") {
    if (!options.vllm) throw new Error("startLocalCluster: the vllm engine needs its vllm options");
    return startVllmLocalCluster(options, options.vllm);
  }
  const stages = options.stageLayers.length;
  const { token, ports, stageAddresses } = await loopbackGroup(stages);
  const cache =
    options.rpcCache && options.engine === "llamacpp" && stages > 1 ? options.rpcCache : undefined;
  const cacheRoot =
    cache === undefined
      ? undefined
      : "dir" in cache.where
        ? cache.where.dir
        : await privateRpcCacheRoot(cache.where.privateUnder);
  const workers: LocalWorker[] = [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    // The head first: it holds connections to every stage.
    await Promise.all([...workers].reverse().map((w) => w.process.stop()));
    if (cache && cacheRoot && "privateUnder" in cache.where)
      await rm(cacheRoot, { recursive: true, force: true });
  };
  const exitHandler = () => {
    for (const w of workers) w.process.killNow();
  };
  process.once("exit", exitHandler);

  const start = (stage: number): LocalWorker => {
    const port = ports[stage] as { http: number; tunnel: number };
    const name = stage === 0 ? "head worker" : `stage-${stage} worker`;
    const worker = new WorkerProcess({
      name,
      command: options.workerCommand,
      httpPort: port.http,
      log: options.log,
      env: workerEnv({
        deployment: options.deployment,
        replica: 0,
        stage,
        stageLayers: options.stageLayers,
        engine: options.engine,
        modelPath: options.modelPath,
        servedModelName: options.servedName,
        maxModelLength: options.maxModelLength,
        stageAddresses: stages > 1 ? stageAddresses : [],
        ...(stages > 1 ? { tunnelToken: token } : {}),
        ...(options.natsUrl === undefined ? {} : { natsUrl: options.natsUrl }),
        bindHost: "127.0.0.1",
        advertiseHost: "127.0.0.1",
        httpPort: port.http,
        tunnelPort: port.tunnel,
        engineThreads: threadsPerStage(stages),
        ...(options.engineHome === undefined ? {} : { engineHome: options.engineHome }),
        ...(cacheRoot !== undefined && stage > 0
          ? {
              rpcCacheDir: stageRpcCacheDir(cacheRoot, stage),
              ...(cache?.maxBytes === undefined ? {} : { rpcCacheMaxBytes: cache.maxBytes }),
            }
          : {}),
      }),
    });
    const entry = { stage, process: worker, httpPort: port.http };
    workers.push(entry);
    return entry;
  };

  try {
    const remote = options.stageLayers.slice(1).map((_, i) => start(i + 1));
    await Promise.all(
      remote.map(async (w) => {
        const report = await w.process.ready(
          cacheRoot === undefined ? STAGE_READY_TIMEOUT_MS : CACHING_STAGE_READY_TIMEOUT_MS,
        );
        const range = options.stageLayers[w.stage] as LayerRange;
        options.progress(
          `stage ${w.stage} ready: layers ${range.first}-${range.last}, tunnel ${stageAddresses[w.stage]} (worker pid ${w.process.pid})${cacheLine(report.rpcCache)}`,
        );
      }),
    );
    const head = start(0);
    if (stages > 1) {
      options.progress(
        cacheRoot === undefined
          ? "loading the model on the head (weights travel to every stage through the tunnel)"
          : "loading the model on the head (stages hold their weights in tensor caches: large tensors cross the tunnel as hashes)",
      );
    }
    const headReport = await head.process.ready(options.headReadyTimeoutMs ?? HEAD_READY_TIMEOUT_MS);
    const broken = new Promise<string>((resolve) => {
      for (const w of workers) {
        w.process.child.once("exit", (code, signal) => {
          if (!stopping) resolve(`${w.process.name} exited (${signal ?? `code ${code}`})`);
        });
      }
    });
    return {
      headUrl: `http://127.0.0.1:${head.httpPort}`,
      workers,
      headReport,
      broken,
      async stop() {
        await stopAll();
        process.off("exit", exitHandler);
      },
    };
  } catch (err: unknown) {
    await stopAll();
    process.off("exit", exitHandler);
    throw err;
  }
}
