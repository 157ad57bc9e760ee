/**
 * A worker's link to the control plane, when its configuration names NATS
 * (`STRATA_NATS_URL`): it connects (retrying forever), publishes heartbeats
 * and lifecycle events, and answers drain/shutdown/status requests. Without
 * NATS a worker still serves, alone (no heartbeats, no events).
 */
import { type EngineProbe, HEARTBEAT_INTERVAL_MS, type WorkerConfig } from "@strata/core";
import { connectNats, type Logger, type NatsConnection } from "@strata/runtime";
import type { Registry } from "prom-client";
import type { EngineFiguresSource, WorkerMetrics } from "../metrics/worker-metrics.js";
import { WorkerControl } from "./worker-control.js";

/** The part of EngineSupervisor the link follows. */
export interface EngineEvents {
  onEvent(listener: (event: { type: string; code?: number | null; signal?: string | null }) => void): unknown;
}

export interface ControlLink {
  readonly control: WorkerControl;
  /**
   * The engine is up: report ready, advertise where the worker is reached, and
   * follow the engine's restarts from now on.
   */
  started(engine: EngineEvents, addresses: { endpoint?: string; tunnelAddress?: string }): void;
  failed(reason: string): void;
  /** Publishes `stopped`, flushes the outbox, closes the connection. */
  close(reason?: string): Promise<void>;
}

export interface ControlLinkDeps {
  readonly config: WorkerConfig;
  readonly natsUrl: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly metrics: WorkerMetrics;
  readonly engine: EngineFiguresSource;
  /** The engine's health for heartbeats (engine/health-probe.ts). */
  readonly probe?: () => EngineProbe | undefined;
  /** Requests the head's front serves now; decides when a draining head is drained. */
  readonly inFlight?: () => number;
  /** Ends the worker process; called for a `shutdown` request. */
  readonly onShutdown: () => void | Promise<void>;
  readonly intervalMs?: number;
}

export async function joinControlPlane(deps: ControlLinkDeps): Promise<ControlLink> {
  const { config } = deps;
  const where = `${config.deployment}/${config.replica}/${config.stage}`;
  const nc: NatsConnection = await connectNats({
    servers: deps.natsUrl,
    name: `shard-worker ${where}`,
    logger: deps.logger,
  });
  const control = new WorkerControl({
    nc,
    identity: {
      deployment: config.deployment,
      replica: config.replica,
      stage: config.stage,
      stageCount: config.stageLayers.length,
      engine: config.engine,
      layers: config.layers,
      ...(config.podUid === undefined ? {} : { pod: config.podUid }),
    },
    logger: deps.logger,
    registry: deps.registry,
    metrics: deps.metrics,
    engine: deps.engine,
    ...(deps.probe ? { probe: deps.probe } : {}),
    ...(deps.inFlight ? { inFlight: deps.inFlight } : {}),
    onShutdown: deps.onShutdown,
    intervalMs: deps.intervalMs ?? HEARTBEAT_INTERVAL_MS,
  });
  control.start();
  return {
    control,
    started(engine, addresses) {
      control.setAddresses(addresses);
      engine.onEvent((event) => {
        switch (event.type) {
          case "ready":
            control.setState("ready");
            break;
          case "exited":
            if (control.state !== "stopped") {
              control.setState("failed", `engine exited (${event.signal ?? `code ${event.code}`})`);
            }
            break;
          case "restarting":
            control.engineRestarted();
            control.setState("starting", "engine restarting");
            break;
          default:
            break;
        }
      });
      control.setState("ready");
    },
    failed(reason) {
      control.setState("failed", reason);
    },
    async close(reason) {
      await control.stop(reason);
      await nc.drain().catch(() => nc.close());
    },
  };
}
