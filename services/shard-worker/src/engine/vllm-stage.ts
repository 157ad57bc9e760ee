/**
 * A stage above 0 of a vLLM group: a headless vLLM node (workers only, no
 * HTTP) that joins node 0 through vLLM's rendezvous, and the stage's end of
 * the group link on its tunnel port. It starts vLLM only once node 0's
 * rendezvous port answers (ranks that race their leader fail to join), and is
 * ready once its head says the group answered a canary. Its liveness includes
 * its leader's: when the link to the head ends, or this node's vLLM exits
 * (with any code), `onGroupFailed` is called once.
 */
import type { WorkerConfig } from "@strata/core";
import { tcpProbe } from "./probes.js";
import { EngineSupervisor } from "./supervisor.js";
import { GroupLinkServer } from "./vllm-group-link.js";
import {
  startWatchedVllm,
  VLLM_READY_TIMEOUT_MS,
  VLLM_STOP_GRACE_MS,
  VllmGroupEndedError,
  type VllmRoleDeps,
} from "./vllm-head.js";
import { vllmNodeLaunch } from "./vllm-node.js";

const MASTER_POLL_MS = 500;
const MASTER_WAIT_LOG_MS = 15_000;

export interface VllmStage {
  readonly engine: EngineSupervisor;
  readonly linkPort: number;
  /** Linked to the head, and the head reported the group ready. */
  readonly leaderReady: () => boolean;
  readonly linked: () => boolean;
  stop(): Promise<void>;
}

export async function startVllmStage(config: WorkerConfig, deps: VllmRoleDeps): Promise<VllmStage> {
  let failure: string | undefined;
  let engine: EngineSupervisor | undefined;
  let stopping = false;
  const fail = (reason: string) => {
    if (failure !== undefined || stopping) return;
    failure = reason;
    // Ends a start still in progress too (start() then returns, and is told below).
    void engine?.stop();
    deps.onGroupFailed(reason);
  };
  const link = new GroupLinkServer({
    host: config.bindHost,
    port: config.tunnelPort,
    stage: config.stage,
    identity: { deployment: config.deployment, replica: config.replica },
    ...(config.tunnelToken === undefined ? {} : { token: config.tunnelToken }),
    log: deps.log,
  });
  link.onLost(fail);
  const linkPort = await link.start();
  const name = `stage-${config.stage} vllm`;

  let launch: Awaited<ReturnType<typeof vllmNodeLaunch>>;
  try {
    launch = await vllmNodeLaunch(config);
    const { host, port } = launch.master;
    deps.log(`[${name}] waiting for node 0's rendezvous at ${host}:${port}`);
    const reachable = tcpProbe(host, port);
    const deadline = Date.now() + VLLM_READY_TIMEOUT_MS;
    let lastLog = Date.now();
    while (!(await reachable())) {
      if (failure !== undefined) throw new VllmGroupEndedError(failure);
      if (Date.now() > deadline) {
        throw new VllmGroupEndedError(
          `node 0's rendezvous ${host}:${port} did not open in ${VLLM_READY_TIMEOUT_MS / 1000} s`,
        );
      }
      if (Date.now() - lastLog > MASTER_WAIT_LOG_MS) {
        deps.log(`[${name}] still waiting for node 0's rendezvous at ${host}:${port}`);
        lastLog = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, MASTER_POLL_MS));
    }
  } catch (err: unknown) {
    await link.close();
    throw err;
  }

  engine = new EngineSupervisor(
    {
      name,
      command: launch.command,
      args: launch.args,
      env: { ...process.env, ...launch.env },
      // Headless: no HTTP to probe; the head's READY says the whole group computes.
      readiness: async () => link.connected && link.leaderReady,
      readyTimeoutMs: VLLM_READY_TIMEOUT_MS,
      onExit: "fail",
      ownProcessGroup: true,
      stopGraceMs: VLLM_STOP_GRACE_MS,
    },
    { log: deps.log },
  );
  engine.onEvent((event) => {
    if (event.type === "exited")
      fail(`vLLM on stage ${config.stage} exited (${event.signal ?? `code ${event.code}`})`);
  });
  const running = engine;
  let unwatch = () => {};
  const stop = async () => {
    stopping = true;
    unwatch();
    await link.close();
    await running.stop();
  };
  unwatch = await startWatchedVllm(running, stop, () => failure, fail);
  return {
    engine: running,
    linkPort,
    leaderReady: () => link.connected && link.leaderReady,
    linked: () => link.connected,
    stop,
  };
}
