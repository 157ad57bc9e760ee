/**
 * The local supervisor for a vLLM replica: one `strata worker` per pipeline
 * stage, as pods would run them, through the same worker contract. All start
 * at once: the head's vLLM opens the group's rendezvous (stage 0's address)
 * and the other stages wait for it on their own. A vLLM group cannot lose a
 * member and go on, so when any worker exits the supervisor stops the rest and
 * starts the whole group again on the same ports (the gateway keeps pointing
 * at the same head URL), as the controller recreates a group's pods.
 */

import { cpus } from "node:os";
import { cpuBindPerNode, type LayerRange, workerEnv } from "@strata/core";
import type { LocalClusterOptions, LocalWorker, RunningCluster } from "./cluster.js";
import { loopbackGroup } from "./loopback-group.js";
import { type ReadyReport, WorkerProcess } from "./worker-process.js";

/** What a local vLLM group needs besides the common options. */
export interface LocalVllmOptions {
  readonly tensorParallel: number;
  /** KV cache per rank, whole GiB (VLLM_CPU_KVCACHE_SPACE). */
  readonly kvCacheGib: number;
  /** vLLM's step timeout; the contract's default when undefined. */
  readonly stepTimeoutSeconds?: number;
}

/** A vLLM group starting on a busy 2-core machine: every process imports torch. */
const VLLM_GROUP_READY_TIMEOUT_MS = 1_200_000;
const RESTART_BACKOFF_MS = [1_000, 5_000, 15_000, 30_000] as const;
const WORKER_STOP_GRACE_MS = 45_000;

export async function startVllmLocalCluster(
  options: LocalClusterOptions,
  vllm: LocalVllmOptions,
): Promise<RunningCluster> {
  const stages = options.stageLayers.length;
  // Stage 0's address is vLLM's rendezvous; the others' carry the head's group link.
  const { token, ports, stageAddresses } = await loopbackGroup(stages);
  const binds = cpuBindPerNode(cpus().length, stages, vllm.tensorParallel);
  const timeoutMs = options.headReadyTimeoutMs ?? VLLM_GROUP_READY_TIMEOUT_MS;

  let workers: LocalWorker[] = [];
  let stopping = false;
  let restarts = 0;
  const exitHandler = () => {
    for (const w of workers) w.process.killNow();
  };
  process.once("exit", exitHandler);

  const spawnWorker = (stage: number): LocalWorker => {
    const port = ports[stage] as { http: number; tunnel: number };
    const worker = new WorkerProcess({
      name: stage === 0 ? "head worker" : `stage-${stage} worker`,
      command: options.workerCommand,
      httpPort: port.http,
      log: options.log,
      // The worker stops vLLM's processes (up to 20 s for their shared memory) before it exits.
      stopGraceMs: WORKER_STOP_GRACE_MS,
      env: workerEnv({
        deployment: options.deployment,
        replica: 0,
        stage,
        stageLayers: options.stageLayers,
        tensorParallel: vllm.tensorParallel,
        engine: "vllm",
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
        ...(options.engineHome === undefined ? {} : { engineHome: options.engineHome }),
        vllm: {
          device: "cpu",
          kvCacheGib: vllm.kvCacheGib,
          cpuBind: binds[stage] ?? "auto",
          ...(vllm.stepTimeoutSeconds === undefined ? {} : { stepTimeoutSeconds: vllm.stepTimeoutSeconds }),
        },
      }),
    });
    return { stage, process: worker, httpPort: port.http };
  };

  const stopWorkers = async () => {
    await Promise.all(workers.map((w) => w.process.stop()));
  };

  /**
   * Starts every stage and resolves with the head's report once the group is
   * ready; rejects as soon as any worker exits (the group cannot form without it).
   */
  const startGroup = async (): Promise<ReadyReport> => {
    workers = options.stageLayers.map((_, stage) => spawnWorker(stage));
    const reports = await Promise.all(
      workers.map(async (w) => {
        const report = await w.process.ready(timeoutMs);
        const range = options.stageLayers[w.stage] as LayerRange;
        options.progress(
          `${w.stage === 0 ? "head" : `stage ${w.stage}`} ready: layers ${range.first}-${range.last}, vLLM node ${w.stage} (worker pid ${w.process.pid})`,
        );
        return report;
      }),
    );
    return reports[0] as ReadyReport;
  };

  let resolveBroken: (reason: string) => void = () => {};
  const broken = new Promise<string>((resolve) => {
    resolveBroken = resolve;
  });

  /** Restarts the whole group when one of its workers exits; gives up after the last backoff. */
  const watchGroup = () => {
    let handled = false;
    for (const w of workers) {
      w.process.child.once("exit", (code, signal) => {
        if (stopping || handled) return;
        handled = true;
        const why = `${w.process.name} exited (${signal ?? `code ${code}`})`;
        void restartGroup(why);
      });
    }
  };

  const restartGroup = async (why: string) => {
    const backoffMs = RESTART_BACKOFF_MS[Math.min(restarts, RESTART_BACKOFF_MS.length - 1)] ?? 30_000;
    restarts++;
    options.progress(
      `vLLM group failed: ${why}; restarting the whole group in ${backoffMs / 1000} s (restart ${restarts})`,
    );
    await stopWorkers();
    await new Promise((resolve) => setTimeout(resolve, backoffMs));
    if (stopping) return;
    try {
      await startGroup();
    } catch (err: unknown) {
      if (stopping) return;
      await stopWorkers();
      resolveBroken(`the vLLM group did not come back: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (stopping) return;
    options.progress(`vLLM group ready again after restart ${restarts}`);
    watchGroup();
  };

  try {
    options.progress(
      `starting ${stages} vLLM node(s) (tp ${vllm.tensorParallel}, cores ${binds.join(" / ")}, ${vllm.kvCacheGib} GiB KV per rank); every process imports torch: minutes on a small machine`,
    );
    const headReport = await startGroup();
    watchGroup();
    return {
      headUrl: `http://127.0.0.1:${ports[0]?.http}`,
      get workers() {
        return workers;
      },
      headReport,
      broken,
      get groupRestarts() {
        return restarts;
      },
      async stop() {
        stopping = true;
        await stopWorkers();
        process.off("exit", exitHandler);
      },
    };
  } catch (err: unknown) {
    stopping = true;
    await stopWorkers();
    process.off("exit", exitHandler);
    throw err;
  }
}
