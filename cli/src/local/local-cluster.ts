import { randomBytes } from "node:crypto";
import {
  type DevicePlacement,
  type LlamaCppBinaries,
  type PipelinePlan,
  threadsPerStage,
  WorkerProcess,
} from "@strata/shard-worker";

export interface LocalClusterOptions {
  readonly modelPath: string;
  readonly plan: PipelinePlan;
  readonly host: string;
  readonly port: number;
  readonly contextSize: number;
  readonly binaries: LlamaCppBinaries;
  /** Worker and engine output, one line at a time, already prefixed. */
  readonly log: (line: string) => void;
  /** Short progress lines for the user. */
  readonly progress: (line: string) => void;
  /** The control plane workers join (heartbeats, events, /metrics); stopped with the cluster. */
  readonly controlPlane?: LocalClusterControl;
}

export interface LocalClusterControl {
  /** Environment joining stage `stage` to the control plane. */
  workerEnv(stage: number): Record<string, string>;
  stop(): Promise<void>;
}

export interface RunningCluster {
  readonly httpPort: number;
  readonly placement: readonly DevicePlacement[];
  readonly workers: readonly WorkerProcess[];
  /** Resolves when any worker process exits unexpectedly (the cluster is broken). */
  readonly broken: Promise<string>;
  stop(): Promise<void>;
}

/**
 * The local supervisor: starts one worker process per remote stage, then the
 * head worker pointed at their tunnels, and stops them all together. Local
 * mode runs the same worker roles a cluster runs, as child processes.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<RunningCluster> {
  const { plan } = options;
  const token = randomBytes(24).toString("hex");
  const workers: WorkerProcess[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(workers.map((w) => w.stop()));
    await options.controlPlane?.stop();
  };
  const exitHandler = () => {
    for (const w of workers) w.killNow();
  };
  process.once("exit", exitHandler);
  const threads = threadsPerStage(plan.ranges.length);

  try {
    const stages = plan.ranges.slice(1).map((range, i) => {
      const stage = i + 1;
      const worker = new WorkerProcess(
        `stage-${stage} worker`,
        {
          role: "stage",
          stage,
          tunnelBind: "127.0.0.1:0",
          token,
          rpcServerPath: options.binaries.rpcServer,
          threads,
        },
        options.log,
        options.controlPlane?.workerEnv(stage),
      );
      workers.push(worker);
      return { stage, range, worker };
    });
    const remoteStages = await Promise.all(
      stages.map(async ({ stage, range, worker }) => {
        const ready = await worker.ready();
        if (ready.role !== "stage") throw new Error(`stage-${stage} worker reported role ${ready.role}`);
        options.progress(
          `stage ${stage} ready: layers ${range.first}-${range.last}, tunnel 127.0.0.1:${ready.tunnelPort} (worker pid ${worker.pid}, rpc-server pid ${ready.enginePid})`,
        );
        return { stage, address: `127.0.0.1:${ready.tunnelPort}`, token };
      }),
    );
    const head = new WorkerProcess(
      "head worker",
      {
        role: "head",
        modelPath: options.modelPath,
        host: options.host,
        port: options.port,
        contextSize: options.contextSize,
        remoteStages,
        offload: plan.offload,
        llamaServerPath: options.binaries.llamaServer,
        threads,
      },
      options.log,
      options.controlPlane?.workerEnv(0),
    );
    workers.push(head);
    options.progress("loading the model on the head (weights travel to every stage through the tunnel)");
    const ready = await head.ready();
    if (ready.role !== "head") throw new Error(`head worker reported role ${ready.role}`);
    const broken = new Promise<string>((resolve) => {
      for (const w of workers) {
        w.child.once("exit", (code, signal) => {
          if (!stopping) resolve(`${w.name} exited (${signal ?? `code ${code}`})`);
        });
      }
    });
    return {
      httpPort: ready.httpPort,
      placement: ready.placement,
      workers,
      broken,
      async stop() {
        await stop();
        process.off("exit", exitHandler);
      },
    };
  } catch (err: unknown) {
    await stop();
    process.off("exit", exitHandler);
    throw err;
  }
}
