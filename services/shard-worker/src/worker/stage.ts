import { readFile } from "node:fs/promises";
import { freeLoopbackPort } from "../engine/free-port.js";
import { rpcServerArgs } from "../engine/llamacpp-args.js";
import { tcpProbe } from "../engine/probes.js";
import { EngineSupervisor, type RestartPolicy } from "../engine/supervisor.js";
import { TunnelServer, type TunnelServerObserver } from "../tunnel/server.js";

export interface StageWorkerConfig {
  readonly role: "stage";
  readonly stage: number;
  /** Where the tunnel's gRPC server binds, e.g. "127.0.0.1:0". */
  readonly tunnelBind: string;
  readonly token: string;
  readonly tlsCertPath?: string;
  readonly tlsKeyPath?: string;
  readonly rpcServerPath: string;
  readonly threads?: number;
}

export interface WorkerDeps {
  readonly log: (line: string) => void;
  readonly tunnelObserver?: TunnelServerObserver;
  readonly restartPolicy?: RestartPolicy;
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
 * only through the authenticated gRPC tunnel.
 */
export async function startStageWorker(config: StageWorkerConfig, deps: WorkerDeps): Promise<StageWorker> {
  const enginePort = await freeLoopbackPort();
  const engine = new EngineSupervisor(
    {
      name: `stage-${config.stage} rpc-server`,
      command: config.rpcServerPath,
      args: rpcServerArgs(enginePort, config.threads),
      readiness: tcpProbe("127.0.0.1", enginePort),
      readyTimeoutMs: RPC_SERVER_READY_TIMEOUT_MS,
    },
    { log: deps.log, policy: deps.restartPolicy },
  );
  await engine.start();
  const tls =
    config.tlsCertPath && config.tlsKeyPath
      ? { cert: await readFile(config.tlsCertPath), key: await readFile(config.tlsKeyPath) }
      : undefined;
  const tunnel = new TunnelServer({
    enginePort,
    bind: config.tunnelBind,
    token: config.token,
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
    `[stage-${config.stage}] tunnel listening on port ${tunnelPort} (engine on 127.0.0.1:${enginePort})`,
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
