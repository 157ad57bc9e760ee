import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatLayerRange, layerCount, TUNNEL_TLS, type WorkerConfig } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import {
  isPlacementOrNonDebugLine,
  parseDeviceEndpoint,
  parseLayerAssignment,
} from "../engine/layer-report.js";
import { llamaServerArgs, offloadPlanFor } from "../engine/llamacpp-args.js";
import { httpProbe } from "../engine/probes.js";
import { type EngineEvent, EngineSupervisor } from "../engine/supervisor.js";
import { TunnelListener, type TunnelListenerObserver } from "../tunnel/client.js";
import type { PipeTotals } from "../tunnel/pipe.js";
import type { WorkerDeps } from "../worker/stage.js";

/** Which layers one device of the head's engine holds, as llama.cpp reported them while loading. */
export interface DevicePlacement {
  /** The pipeline stage owning the device (0: the head's own CPU). */
  readonly stage: number;
  readonly device: string;
  readonly layers: readonly number[];
}

/** What a head front needs: llama-server's private port and the tunnel to each remote stage. */
export interface HeadEngineAccess {
  readonly enginePort: number;
  readonly tunnels: readonly { readonly stage: number; readonly listener: TunnelListener }[];
}

/** llama.cpp put other layers on a stage than the plan says; the head refuses to serve. */
export class PlacementMismatchError extends Error {
  override readonly name = "PlacementMismatchError";
}

/** Model loading (weights pushed to every stage over the tunnel) can take a while. */
const LLAMA_SERVER_READY_TIMEOUT_MS = 600_000;
/** How often the head says which stage tunnel it is still waiting for. */
const TUNNEL_WAIT_LOG_MS = 10_000;

export interface HeadWorker {
  readonly engine: EngineSupervisor;
  readonly access: HeadEngineAccess;
  /** Layers per stage as llama.cpp placed them during the latest load. */
  readonly placement: () => readonly DevicePlacement[];
  /** Every stage tunnel has a live connection from the engine. */
  readonly tunnelsConnected: () => boolean;
  stop(): Promise<void>;
}

export interface HeadDeps extends WorkerDeps {
  readonly llamaServerPath: string;
  /** An observer per remote stage (tunnel metrics labelled by stage). */
  readonly listenerObserverFor?: (stage: number) => TunnelListenerObserver;
}

/**
 * Stage 0: a local tunnel listener per remote stage, then llama-server with
 * `--rpc` pointing at those listeners, so every tensor and activation that
 * crosses a stage boundary travels over gRPC. It waits until every stage's
 * tunnel answers before loading (pods of a group start in any order), and
 * once loaded it checks that llama.cpp placed each stage's planned layers.
 * @throws PlacementMismatchError, EngineStartError
 */
export async function startHeadWorker(config: WorkerConfig, deps: HeadDeps): Promise<HeadWorker> {
  const numLayers = (config.stageLayers.at(-1)?.last ?? -1) + 1;
  const caCert = config.tunnelTlsDir ? readFileSync(join(config.tunnelTlsDir, TUNNEL_TLS.caFile)) : undefined;
  const listeners: TunnelListener[] = [];
  let engine: EngineSupervisor | undefined;
  // llama.cpp keeps weights and KV cache on the stage: when a stage's side of a
  // connection goes away (its engine restarted), the head's engine state is
  // stale and llama.cpp would abort on its next RPC. Restart it right away so
  // it reloads onto the fresh stage instead of failing the next request.
  const observerFor = (stage: number): TunnelListenerObserver => {
    const outer = deps.listenerObserverFor?.(stage) ?? {};
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
  const endpoints: string[] = [];
  const tunnels: { stage: number; listener: TunnelListener }[] = [];
  const closeListeners = async () => {
    await Promise.all(listeners.map((l) => l.close()));
  };
  try {
    for (let stage = 1; stage < config.stageLayers.length; stage++) {
      const address = config.stageAddresses[stage] as string;
      const listener = new TunnelListener(
        {
          address,
          token: config.tunnelToken ?? "",
          caCert,
          ...(caCert ? { serverName: TUNNEL_TLS.serverName } : {}),
        },
        observerFor(stage),
      );
      listeners.push(listener);
      const port = await listener.listen();
      stageByPort.set(port, stage);
      endpoints.push(`127.0.0.1:${port}`);
      tunnels.push({ stage, listener });
    }
    await waitForStages(tunnels, deps.log);
  } catch (err: unknown) {
    await closeListeners();
    throw err;
  }

  const enginePort = await freeLoopbackPort();
  engine = new EngineSupervisor(
    {
      name: "stage-0 llama-server",
      command: deps.llamaServerPath,
      args: llamaServerArgs({
        modelPath: config.modelPath,
        servedName: config.servedModelName,
        host: "127.0.0.1",
        port: enginePort,
        contextSize: config.maxModelLength,
        maxSequences: config.maxSequences,
        rpcEndpoints: endpoints,
        offload: offloadPlanFor(config.stageLayers, numLayers),
        threads: config.engineThreads,
      }),
      readiness: httpProbe(`http://127.0.0.1:${enginePort}/health`),
      readyTimeoutMs: LLAMA_SERVER_READY_TIMEOUT_MS,
      // Per-token debug chatter would cost the tunnel's event loop; placement lines still pass.
      logLine: isPlacementOrNonDebugLine,
    },
    { log: deps.log, policy: deps.restartPolicy },
  );
  const running = engine;
  const devicePorts = new Map<string, number>();
  let layers = new Map<string, number[]>();
  running.onEvent((event: EngineEvent) => {
    if (event.type === "started") layers = new Map();
  });
  running.onLine((line) => {
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
  try {
    await running.start();
    if (config.stageLayers.length > 1) checkPlacement(config, placement());
  } catch (err: unknown) {
    await running.stop();
    await closeListeners();
    throw err;
  }
  return {
    engine: running,
    access: { enginePort, tunnels },
    placement,
    tunnelsConnected: () => tunnels.every((t) => t.listener.openConnections > 0),
    async stop() {
      await running.stop();
      await closeListeners();
    },
  };
}

/** Waits until every remote stage's tunnel server accepts a channel, saying whom it waits for. */
async function waitForStages(
  tunnels: readonly { stage: number; listener: TunnelListener }[],
  log: (line: string) => void,
): Promise<void> {
  const pending = new Set(tunnels.map((t) => t.stage));
  const timer = setInterval(() => {
    log(`[head] waiting for the tunnel of stage(s) ${[...pending].join(", ")}`);
  }, TUNNEL_WAIT_LOG_MS);
  try {
    await Promise.all(
      tunnels.map(async (t) => {
        await t.listener.waitUntilReachable();
        pending.delete(t.stage);
      }),
    );
  } finally {
    clearInterval(timer);
  }
}

/**
 * Compares what llama.cpp placed with the plan: stage s must hold exactly
 * `stageLayers[s]` (the output layer, index numLayers, is not counted).
 * @throws PlacementMismatchError naming the first stage that differs
 */
export function checkPlacement(
  config: Pick<WorkerConfig, "stageLayers">,
  placed: readonly DevicePlacement[],
): void {
  const numLayers = (config.stageLayers.at(-1)?.last ?? -1) + 1;
  for (const [stage, range] of config.stageLayers.entries()) {
    const held = placed
      .filter((p) => p.stage === stage)
      .flatMap((p) => p.layers)
      .filter((l) => l < numLayers)
      .sort((a, b) => a - b);
    const same = held.length === layerCount(range) && held.every((l, i) => l === range.first + i);
    if (!same) {
      const got = held.length === 0 ? "none" : `${held[0]}-${held.at(-1)}`;
      throw new PlacementMismatchError(
        `stage ${stage}: llama.cpp placed layers ${got}, the plan says ${formatLayerRange(range)}`,
      );
    }
  }
}
