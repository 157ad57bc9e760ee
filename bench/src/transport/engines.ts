import { type LocalRpcCache, startLocalCluster, threadsPerStage } from "@strata/controller";
import type { LayerRange } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import {
  EngineSupervisor,
  httpProbe,
  type LlamaCppBinaries,
  llamaServerArgs,
  offloadPlanFor,
  rpcServerArgs,
  tcpProbe,
} from "@strata/shard-worker";

/** A running llama-server with an HTTP API, however its stages are wired. */
export interface ServingSetup {
  readonly name: string;
  readonly url: string;
  /** Strata setups: each remote stage worker's HTTP endpoint (its /readyz, /metrics). */
  readonly stageUrls?: readonly string[];
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 180_000;
const CONTEXT_TOKENS = 2048;

/** llama-server with the same flags the head worker uses, so only the wiring differs. */
function llamaServer(
  binaries: LlamaCppBinaries,
  modelPath: string,
  port: number,
  stageLayers: readonly LayerRange[] | undefined,
  rpcEndpoints: string[],
  log: (line: string) => void,
): EngineSupervisor {
  return new EngineSupervisor(
    {
      name: "llama-server",
      command: binaries.llamaServer,
      args: llamaServerArgs({
        modelPath,
        host: "127.0.0.1",
        port,
        contextSize: CONTEXT_TOKENS,
        rpcEndpoints,
        offload: stageLayers
          ? offloadPlanFor(stageLayers, (stageLayers.at(-1)?.last ?? -1) + 1)
          : { nGpuLayers: 0, tensorSplit: [] },
        // The same policy as `strata up`: each engine gets its share of the cores.
        threads: threadsPerStage(stageLayers?.length ?? 1),
      }),
      readiness: httpProbe(`http://127.0.0.1:${port}/health`),
      readyTimeoutMs: READY_TIMEOUT_MS,
    },
    { log },
  );
}

/** Baseline: the whole model in one llama-server process. */
export async function startOneProcess(
  binaries: LlamaCppBinaries,
  modelPath: string,
  log: (line: string) => void,
): Promise<ServingSetup> {
  const port = await freeLoopbackPort();
  const server = llamaServer(binaries, modelPath, port, undefined, [], log);
  await server.start();
  return { name: "one process", url: `http://127.0.0.1:${port}`, stop: () => server.stop() };
}

/**
 * A plain TCP relay in its own Node process (TCP_NODELAY on both sides): the
 * cost of one extra user-space hop, with no gRPC, for comparison.
 */
const RELAY_SCRIPT = `
const net = require("node:net");
const [listenPort, targetPort] = process.argv.slice(1).map(Number);
net.createServer({ noDelay: true }, (inbound) => {
  const outbound = net.connect({ host: "127.0.0.1", port: targetPort, noDelay: true });
  inbound.pipe(outbound).pipe(inbound);
  inbound.on("error", () => outbound.destroy());
  outbound.on("error", () => inbound.destroy());
}).listen(listenPort, "127.0.0.1");
`;

/**
 * llama.cpp's own RPC: the head dials each stage's ggml-rpc-server over
 * loopback TCP, directly or (`relayed`) through a plain TCP relay process.
 */
export async function startDirectRpc(
  binaries: LlamaCppBinaries,
  modelPath: string,
  stageLayers: readonly LayerRange[],
  log: (line: string) => void,
  relayed = false,
): Promise<ServingSetup> {
  const stages: EngineSupervisor[] = [];
  const endpoints: string[] = [];
  const stopAll = async () => {
    await Promise.all(stages.map((s) => s.stop()));
  };
  try {
    for (let stage = 1; stage < stageLayers.length; stage++) {
      const port = await freeLoopbackPort();
      const rpc = new EngineSupervisor(
        {
          name: `stage-${stage} rpc-server`,
          command: binaries.rpcServer,
          args: rpcServerArgs(port, threadsPerStage(stageLayers.length)),
          readiness: tcpProbe("127.0.0.1", port),
          readyTimeoutMs: READY_TIMEOUT_MS,
        },
        { log },
      );
      stages.push(rpc);
      await rpc.start();
      if (!relayed) {
        endpoints.push(`127.0.0.1:${port}`);
        continue;
      }
      const relayPort = await freeLoopbackPort();
      const relay = new EngineSupervisor(
        {
          name: `stage-${stage} relay`,
          command: process.execPath,
          args: ["-e", RELAY_SCRIPT, String(relayPort), String(port)],
          readiness: tcpProbe("127.0.0.1", relayPort),
          readyTimeoutMs: READY_TIMEOUT_MS,
        },
        { log },
      );
      stages.push(relay);
      await relay.start();
      endpoints.push(`127.0.0.1:${relayPort}`);
    }
    const port = await freeLoopbackPort();
    const head = llamaServer(binaries, modelPath, port, stageLayers, endpoints, log);
    stages.push(head);
    await head.start();
    const name = relayed ? "llama.cpp RPC via a plain TCP relay process" : "llama.cpp RPC, direct TCP";
    return { name, url: `http://127.0.0.1:${port}`, stop: stopAll };
  } catch (err: unknown) {
    await stopAll();
    throw err;
  }
}

/** Strata: stage workers behind the gRPC tunnel and a head worker, each its own process, as `strata up` runs them. */
export async function startTunnelled(
  binaries: LlamaCppBinaries,
  modelPath: string,
  stageLayers: readonly LayerRange[],
  workerCommand: readonly string[],
  log: (line: string) => void,
  rpcCache?: LocalRpcCache,
): Promise<ServingSetup> {
  const cluster = await startLocalCluster({
    workerCommand,
    deployment: "bench",
    engine: "llamacpp",
    modelPath,
    servedName: "bench",
    stageLayers,
    maxModelLength: CONTEXT_TOKENS,
    engineHome: binaries.binDir,
    log,
    progress: log,
    ...(rpcCache === undefined ? {} : { rpcCache }),
  });
  return {
    name: rpcCache === undefined ? "Strata gRPC tunnel" : "Strata gRPC tunnel, stage tensor caches",
    url: cluster.headUrl,
    stageUrls: cluster.workers.filter((w) => w.stage > 0).map((w) => `http://127.0.0.1:${w.httpPort}`),
    stop: () => cluster.stop(),
  };
}
