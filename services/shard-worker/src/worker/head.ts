import { readFile } from "node:fs/promises";
import { freeLoopbackPort } from "../engine/free-port.js";
import {
  isPlacementOrNonDebugLine,
  parseDeviceEndpoint,
  parseLayerAssignment,
} from "../engine/layer-report.js";
import { llamaServerArgs, type OffloadPlan } from "../engine/llamacpp-args.js";
import { httpProbe } from "../engine/probes.js";
import { EngineSupervisor } from "../engine/supervisor.js";
import { TunnelListener, type TunnelListenerObserver } from "../tunnel/client.js";
import type { PipeTotals } from "../tunnel/pipe.js";
import type { DevicePlacement } from "./messages.js";
import type { WorkerDeps } from "./stage.js";

export interface RemoteStage {
  readonly stage: number;
  /** host:port of the stage worker's tunnel. */
  readonly address: string;
  readonly token: string;
  readonly caCertPath?: string;
}

export interface HeadWorkerConfig {
  readonly role: "head";
  readonly modelPath: string;
  readonly host: string;
  /** HTTP port of the OpenAI-compatible API; 0 picks a free one. */
  readonly port: number;
  readonly contextSize: number;
  readonly remoteStages: readonly RemoteStage[];
  readonly offload: OffloadPlan;
  readonly llamaServerPath: string;
  readonly threads?: number;
}

/** What a head front needs: llama-server's private port and the tunnel to each remote stage. */
export interface HeadEngineAccess {
  readonly enginePort: number;
  readonly tunnels: readonly { readonly stage: number; readonly listener: TunnelListener }[];
}

/** Model loading (weights pushed to every stage over the tunnel) can take a while. */
const LLAMA_SERVER_READY_TIMEOUT_MS = 180_000;

export interface HeadWorker {
  readonly httpPort: number;
  readonly engine: EngineSupervisor;
  /** Layers per stage as llama.cpp placed them during the latest load. */
  readonly placement: () => readonly DevicePlacement[];
  stop(): Promise<void>;
}

/**
 * Stage 0: a local tunnel listener per remote stage, then llama-server with
 * `--rpc` pointing at those listeners, so every tensor and activation that
 * crosses a stage boundary travels over gRPC.
 */
export async function startHeadWorker(
  config: HeadWorkerConfig,
  deps: WorkerDeps & {
    listenerObserver?: TunnelListenerObserver;
    /** An observer per remote stage (metrics labelled by stage); wins over listenerObserver. */
    listenerObserverFor?: (stage: number) => TunnelListenerObserver;
    /**
     * An HTTP front (control/head-front.ts) that becomes the public endpoint on
     * config.host:config.port; llama-server then listens on a private loopback port.
     */
    front?: (engine: HeadEngineAccess) => Promise<{ readonly port: number; close(): Promise<void> }>;
  },
): Promise<HeadWorker> {
  const listeners: TunnelListener[] = [];
  let engine: EngineSupervisor | undefined;
  // llama.cpp keeps weights and KV cache on the stage: when a stage's side of a
  // connection goes away (its engine restarted), the head's engine state is
  // stale and llama.cpp would abort on its next RPC. Restart it right away so
  // it reloads onto the fresh stage instead of failing the next request.
  const observerFor = (stage: number): TunnelListenerObserver => {
    const outer = deps.listenerObserverFor?.(stage) ?? deps.listenerObserver ?? {};
    // Delegates every other hook to `outer` (which may be a class instance).
    const observer: TunnelListenerObserver = Object.create(outer);
    observer.connectionClosed = (totals: PipeTotals, error?: Error) => {
      outer.connectionClosed?.(totals, error);
      if (totals.endedBy === "call") {
        engine?.restartNow(`stage ${stage} connection lost${error ? ` (${error.message})` : ""}`);
      }
    };
    return observer;
  };
  const stageByPort = new Map<number, number>();
  const devicePorts = new Map<string, number>();
  const endpoints: string[] = [];
  for (const remote of config.remoteStages) {
    const caCert = remote.caCertPath ? await readFile(remote.caCertPath) : undefined;
    const listener = new TunnelListener(
      { address: remote.address, token: remote.token, caCert },
      observerFor(remote.stage),
    );
    const port = await listener.listen();
    listeners.push(listener);
    stageByPort.set(port, remote.stage);
    endpoints.push(`127.0.0.1:${port}`);
  }
  const tunnels = config.remoteStages.map((remote, i) => ({
    stage: remote.stage,
    listener: listeners[i] as TunnelListener,
  }));
  const httpPort = config.port === 0 || deps.front ? await freeLoopbackPort() : config.port;
  engine = new EngineSupervisor(
    {
      name: "stage-0 llama-server",
      command: config.llamaServerPath,
      args: llamaServerArgs({
        modelPath: config.modelPath,
        host: deps.front ? "127.0.0.1" : config.host,
        port: httpPort,
        contextSize: config.contextSize,
        rpcEndpoints: endpoints,
        offload: config.offload,
        threads: config.threads,
      }),
      readiness: httpProbe(`http://127.0.0.1:${httpPort}/health`),
      readyTimeoutMs: LLAMA_SERVER_READY_TIMEOUT_MS,
      // Per-token debug chatter would cost the tunnel's event loop; placement lines still pass.
      logLine: isPlacementOrNonDebugLine,
    },
    { log: deps.log, policy: deps.restartPolicy },
  );
  let layers = new Map<string, number[]>();
  engine.onEvent((event) => {
    if (event.type === "started") layers = new Map();
  });
  engine.onLine((line) => {
    // Each load pass logs the whole assignment again; keep the latest.
    if (line.includes("load_tensors: loading model tensors")) layers = new Map();
    const endpoint = parseDeviceEndpoint(line);
    if (endpoint) devicePorts.set(endpoint.device, endpoint.port);
    const assignment = parseLayerAssignment(line);
    if (!assignment) return;
    const list = layers.get(assignment.device) ?? [];
    list.push(assignment.layer);
    layers.set(assignment.device, list);
  });
  const placement = (): DevicePlacement[] =>
    [...layers.entries()].map(([device, list]) => {
      const port = devicePorts.get(device);
      const stage = device === "CPU" ? 0 : port === undefined ? -1 : (stageByPort.get(port) ?? -1);
      return { stage, device, layers: list };
    });
  const closeListeners = async () => {
    await Promise.all(listeners.map((l) => l.close()));
  };
  let front: { readonly port: number; close(): Promise<void> } | undefined;
  try {
    await engine.start();
    front = await deps.front?.({ enginePort: httpPort, tunnels });
  } catch (err: unknown) {
    await engine.stop();
    await closeListeners();
    throw err;
  }
  return {
    httpPort: front?.port ?? httpPort,
    engine,
    placement,
    async stop() {
      await front?.close();
      await engine.stop();
      await closeListeners();
    },
  };
}
