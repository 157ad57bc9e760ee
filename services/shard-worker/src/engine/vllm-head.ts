/**
 * Stage 0 of a vLLM group: node 0 of a multi-node vLLM instance (it serves the
 * OpenAI API on a private loopback port, behind the worker's front), plus the
 * group link to every other stage. Ready once every stage is linked and a
 * 1-token completion comes back: vLLM's /health stays 200 while a lost rank
 * leaves every request hanging, so only a real completion proves the group
 * computes. Any end of the group (this engine exiting, with any code, or a
 * stage's link closing) is reported once through `onGroupFailed`; the worker
 * then fails its in-flight requests and exits, and the group restarts as a
 * whole (the local supervisor, or the controller recreating the pods).
 */

import type { WorkerConfig } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import { watchGroupMembers } from "./process-watch.js";
import { EngineSupervisor } from "./supervisor.js";
import { GroupLinks } from "./vllm-group-link.js";
import { vllmNodeLaunch } from "./vllm-node.js";

/** Loading, compiling and joining every node can take minutes on a busy CPU. */
export const VLLM_READY_TIMEOUT_MS = 1_200_000;
/** vLLM's engine core and workers need a few seconds to leave cleanly (shared memory). */
export const VLLM_STOP_GRACE_MS = 20_000;
const CANARY_TIMEOUT_MS = 30_000;
const CANARY_PERIOD_MS = 15_000;

/** The group ended (a stage or this engine went away) before it was ready. */
export class VllmGroupEndedError extends Error {
  override readonly name = "VllmGroupEndedError";
}

export interface VllmRoleDeps {
  readonly log: (line: string) => void;
  /** Called once when the group can no longer serve. */
  readonly onGroupFailed: (reason: string) => void;
}

export interface VllmHead {
  readonly engine: EngineSupervisor;
  /** vLLM's API on loopback. */
  readonly enginePort: number;
  /** The latest canary succeeded (or the engine generated tokens since). */
  readonly healthy: () => boolean;
  readonly links: () => { stage: number; linked: boolean }[];
  /** The KV capacity vLLM reported at start ("KV cache size: N tokens"). */
  readonly kvCacheTokens: () => number | undefined;
  /** Starts re-checking readiness periodically; `generated` reads the engine's token counter. */
  watch(generated: () => number | undefined): void;
  stop(): Promise<void>;
}

/** vLLM titles its engine core and rank processes `VLLM::EngineCore`, `VLLM::Worker_PP1`, … */
const VLLM_PROCESS_TITLE = /^VLLM::/;

/**
 * Fails the group as soon as one of the engine's own processes (engine core, a
 * rank's worker) dies: vLLM's main process may take many seconds to exit
 * after losing one (18 s measured for a headless node here).
 */
export function watchVllmProcesses(engine: EngineSupervisor, fail: (reason: string) => void): () => void {
  const pgid = engine.pid;
  if (pgid === undefined) return () => {};
  return watchGroupMembers(pgid, VLLM_PROCESS_TITLE, (m) =>
    fail(`vLLM process ${m.title.split(" ")[0]} (pid ${m.pid}) exited`),
  );
}

/**
 * Starts a node's vLLM. When the start throws, or the group failed meanwhile
 * (`failure()`), everything is stopped and the error thrown; otherwise the
 * engine's processes are watched from then on (the returned function stops it).
 */
export async function startWatchedVllm(
  engine: EngineSupervisor,
  stop: () => Promise<void>,
  failure: () => string | undefined,
  fail: (reason: string) => void,
): Promise<() => void> {
  try {
    await engine.start();
  } catch (err: unknown) {
    await stop();
    throw err;
  }
  const failed = failure();
  if (failed !== undefined) {
    await stop();
    throw new VllmGroupEndedError(failed);
  }
  return watchVllmProcesses(engine, fail);
}

/** True when vLLM on `port` completes one token for `model` within the timeout. */
export async function vllmCanary(
  port: number,
  model: string,
  timeoutMs = CANARY_TIMEOUT_MS,
): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, prompt: "Hi", max_tokens: 1, temperature: 0 }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts node 0 and links to every stage; resolves once the group answered a
 * canary. @throws EngineStartError, VllmMissingError, VllmPlanError
 */
export async function startVllmHead(config: WorkerConfig, deps: VllmRoleDeps): Promise<VllmHead> {
  const enginePort = await freeLoopbackPort();
  const launch = await vllmNodeLaunch(config, enginePort);
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
  const links = new GroupLinks({
    stages: config.stageAddresses.slice(1).map((address, i) => ({ stage: i + 1, address })),
    identity: { deployment: config.deployment, replica: config.replica },
    ...(config.tunnelToken === undefined ? {} : { token: config.tunnelToken }),
    log: deps.log,
  });
  links.onLost(fail);
  links.start();

  let kvTokens: number | undefined;
  engine = new EngineSupervisor(
    {
      name: "stage-0 vllm",
      command: launch.command,
      args: launch.args,
      env: { ...process.env, ...launch.env },
      readiness: async () => links.allUp() && (await vllmCanary(enginePort, config.servedModelName)),
      readyTimeoutMs: VLLM_READY_TIMEOUT_MS,
      onExit: "fail",
      ownProcessGroup: true,
      stopGraceMs: VLLM_STOP_GRACE_MS,
    },
    { log: deps.log },
  );
  engine.onLine((line) => {
    const match = /KV cache size: ([\d,]+) tokens/.exec(line);
    if (match?.[1]) kvTokens = Number(match[1].replaceAll(",", ""));
  });
  engine.onEvent((event) => {
    if (event.type === "exited") {
      fail(`vLLM on stage 0 exited (${event.signal ?? `code ${event.code}`})`);
    }
  });
  const running = engine;
  let healthy = false;
  let timer: NodeJS.Timeout | undefined;
  let unwatch = () => {};
  const stop = async () => {
    stopping = true;
    unwatch();
    clearInterval(timer);
    links.close();
    await running.stop();
  };
  unwatch = await startWatchedVllm(running, stop, () => failure, fail);
  healthy = true;
  links.sendReady();
  deps.log(
    `[stage-0 vllm] group ready: ${config.stageLayers.length} node(s), tp ${config.tensorParallel}${kvTokens === undefined ? "" : `, KV cache ${kvTokens} tokens per rank`}`,
  );
  return {
    engine: running,
    enginePort,
    healthy: () => healthy,
    links: () => links.status(),
    kvCacheTokens: () => kvTokens,
    watch(generated) {
      // A replica that generated tokens since the last look is computing; an idle
      // one is asked for a token. A failed canary makes it unready (not failed):
      // a hung step ends in vLLM's step timeout, which fails the group.
      let lastTokens = generated();
      let checking = false;
      timer = setInterval(async () => {
        if (checking) return;
        const now = generated();
        if (now !== undefined && lastTokens !== undefined && now > lastTokens) {
          lastTokens = now;
          healthy = true;
          return;
        }
        lastTokens = now;
        checking = true;
        healthy = await vllmCanary(enginePort, config.servedModelName);
        checking = false;
      }, CANARY_PERIOD_MS);
      timer.unref();
    },
    stop,
  };
}
