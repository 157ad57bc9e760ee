import { randomBytes } from "node:crypto";
import {
  EngineSupervisor,
  freeLoopbackPort,
  httpProbe,
  type LlamaCppBinaries,
  llamaServerArgs,
  type PipelinePlan,
  rpcServerArgs,
  tcpProbe,
  threadsPerStage,
  WorkerProcess,
} from "@strata/shard-worker";

/** A running llama-server with an HTTP API, however its stages are wired. */
export interface ServingSetup {
  readonly name: string;
  readonly url: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 180_000;
const CONTEXT_TOKENS = 2048;

/** llama-server with the same flags the head worker uses, so only the wiring differs. */
function llamaServer(
  binaries: LlamaCppBinaries,
  modelPath: string,
  port: number,
  plan: PipelinePlan | undefined,
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
        offload: plan?.offload ?? { nGpuLayers: 0, tensorSplit: [] },
        // The same policy as `strata up`: each engine gets its share of the cores.
        threads: threadsPerStage(plan?.ranges.length ?? 1),
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
  plan: PipelinePlan,
  log: (line: string) => void,
  relayed = false,
): Promise<ServingSetup> {
  const stages: EngineSupervisor[] = [];
  const endpoints: string[] = [];
  const stopAll = async () => {
    await Promise.all(stages.map((s) => s.stop()));
  };
  try {
    for (let stage = 1; stage < plan.ranges.length; stage++) {
      const port = await freeLoopbackPort();
      const rpc = new EngineSupervisor(
        {
          name: `stage-${stage} rpc-server`,
          command: binaries.rpcServer,
          args: rpcServerArgs(port, threadsPerStage(plan.ranges.length)),
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
    const head = llamaServer(binaries, modelPath, port, plan, endpoints, log);
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
  plan: PipelinePlan,
  log: (line: string) => void,
): Promise<ServingSetup> {
  const token = randomBytes(24).toString("hex");
  const workers: WorkerProcess[] = [];
  const stopAll = async () => {
    await Promise.all(workers.map((w) => w.stop()));
  };
  try {
    const remoteStages = await Promise.all(
      plan.ranges.slice(1).map(async (_, i) => {
        const stage = i + 1;
        const worker = new WorkerProcess(
          `stage-${stage} worker`,
          {
            role: "stage",
            stage,
            tunnelBind: "127.0.0.1:0",
            token,
            rpcServerPath: binaries.rpcServer,
            threads: threadsPerStage(plan.ranges.length),
          },
          log,
        );
        workers.push(worker);
        const ready = await worker.ready();
        if (ready.role !== "stage") throw new Error("unexpected worker role");
        return { stage, address: `127.0.0.1:${ready.tunnelPort}`, token };
      }),
    );
    const head = new WorkerProcess(
      "head worker",
      {
        role: "head",
        modelPath,
        host: "127.0.0.1",
        port: 0,
        contextSize: CONTEXT_TOKENS,
        remoteStages,
        offload: plan.offload,
        llamaServerPath: binaries.llamaServer,
        threads: threadsPerStage(plan.ranges.length),
      },
      log,
    );
    workers.push(head);
    const ready = await head.ready();
    if (ready.role !== "head") throw new Error("unexpected worker role");
    return { name: "Strata gRPC tunnel", url: `http://127.0.0.1:${ready.httpPort}`, stop: stopAll };
  } catch (err: unknown) {
    await stopAll();
    throw err;
  }
}
