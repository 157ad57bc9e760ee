import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { TUNNEL_TLS, type WorkerConfig } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import { rpcServerArgs } from "../engine/llamacpp-args.js";
import { tcpProbe } from "../engine/probes.js";
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
  stop(): Promise<void>;
}

/**
 * A pipeline stage: ggml-rpc-server on a private loopback port, reachable
 * only through the authenticated gRPC tunnel on the worker's tunnel port.
 */
export async function startStageWorker(config: WorkerConfig, deps: StageDeps): Promise<StageWorker> {
  const enginePort = await freeLoopbackPort();
  const engine = new EngineSupervisor(
    {
      name: `stage-${config.stage} rpc-server`,
      command: deps.rpcServerPath,
      args: rpcServerArgs(enginePort, config.engineThreads),
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
    async stop() {
      await tunnel.stop();
      await engine.stop();
    },
  };
}
