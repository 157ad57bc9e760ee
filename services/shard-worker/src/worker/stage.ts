import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { TUNNEL_TLS, type WorkerConfig } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import { rpcServerArgs } from "../engine/llamacpp-args.js";
import { tcpProbe } from "../engine/probes.js";
import { prepareRpcCache, type RpcCacheResult } from "../engine/rpc-cache.js";
import { EngineSupervisor, type RestartPolicy } from "../engine/supervisor.js";
import { TunnelServer, type TunnelServerObserver } from "../tunnel/server.js";

export interface WorkerDeps {
  readonly log: (line: string) => void;
  readonly restartPolicy?: RestartPolicy;
}

export interface StageDeps extends WorkerDeps {
  readonly rpcServerPath: string;
  readonly tunnelObserver?: TunnelServerObserver;
}

const RPC_SERVER_READY_TIMEOUT_MS = 30_000;

export interface StageWorker {
  readonly tunnelPort: number;
  readonly enginePort: number;
  readonly engine: EngineSupervisor;
  /** The tensor cache as prepared at start; undefined when none was configured. */
  readonly rpcCache?: RpcCacheResult;
  stop(): Promise<void>;
}

/**
 * A pipeline stage: ggml-rpc-server on a private loopback port, reachable
 * only through the authenticated gRPC tunnel on the worker's tunnel port.
 * With a tensor cache configured, the stage first fills it from its own copy
 * of the model; its tunnel opens only after that, so the head (which waits
 * for every stage's tunnel) loads against a full cache.
 */
export async function startStageWorker(config: WorkerConfig, deps: StageDeps): Promise<StageWorker> {
  const rpcCache =
    config.rpcCacheDir === undefined ? undefined : await prepareCache(config, config.rpcCacheDir, deps);
  const cached = rpcCache?.enabled === true;
  const enginePort = await freeLoopbackPort();
  const engine = new EngineSupervisor(
    {
      name: `stage-${config.stage} rpc-server`,
      command: deps.rpcServerPath,
      args: rpcServerArgs(enginePort, config.engineThreads, cached),
      // rpc-server keeps its cache in $LLAMA_CACHE/rpc.
      ...(cached ? { env: { ...process.env, LLAMA_CACHE: config.rpcCacheDir } } : {}),
      readiness: tcpProbe("127.0.0.1", enginePort),
      readyTimeoutMs: RPC_SERVER_READY_TIMEOUT_MS,
    },
    { log: deps.log, policy: deps.restartPolicy },
  );
  await engine.start();
  const tls = config.tunnelTlsDir
    ? {
        cert: await readFile(join(config.tunnelTlsDir, TUNNEL_TLS.certFile)),
        key: await readFile(join(config.tunnelTlsDir, TUNNEL_TLS.keyFile)),
      }
    : undefined;
  const tunnel = new TunnelServer({
    enginePort,
    bind: `${config.bindHost}:${config.tunnelPort}`,
    token: config.tunnelToken ?? "",
    tls,
    observer: deps.tunnelObserver,
  });
  let tunnelPort: number;
  try {
    tunnelPort = await tunnel.start();
  } catch (err: unknown) {
    await engine.stop();
    throw err;
  }
  deps.log(
    `[stage-${config.stage}] tunnel listening on port ${tunnelPort}${tls ? " (TLS)" : ""} (engine on 127.0.0.1:${enginePort})`,
  );
  return {
    tunnelPort,
    enginePort,
    engine,
    ...(rpcCache === undefined ? {} : { rpcCache }),
    async stop() {
      await tunnel.stop();
      await engine.stop();
    },
  };
}

/**
 * Fills the stage's tensor cache. A stage that cannot read the model or write
 * the folder still serves: the head then sends the weights through the tunnel.
 */
async function prepareCache(config: WorkerConfig, dir: string, deps: StageDeps): Promise<RpcCacheResult> {
  try {
    return await prepareRpcCache({
      dir,
      ...(config.rpcCacheMaxBytes === undefined ? {} : { maxBytes: config.rpcCacheMaxBytes }),
      modelPath: config.modelPath,
      layers: config.layers,
      lastStage: config.stage === config.stageLayers.length - 1,
      log: (line) => deps.log(`[stage-${config.stage}] ${line}`),
    });
  } catch (err: unknown) {
    const reason = `the stage's tensor cache could not be prepared (${err instanceof Error ? err.message : String(err)}); the head sends the weights through the tunnel`;
    deps.log(`[stage-${config.stage}] [rpc-cache] ${reason}`);
    return { enabled: false, reason };
  }
}
