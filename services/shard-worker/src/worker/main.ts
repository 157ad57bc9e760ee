/**
 * Entry point of a shard-worker process: `node dist/worker/main.js` with its
 * configuration as JSON in STRATA_WORKER_CONFIG (secrets stay out of argv).
 * Runs the stage or head role until SIGTERM/SIGINT, or until the parent that
 * forked it goes away, then stops its engine so nothing is orphaned.
 * Reports readiness and engine events over the IPC channel when there is one.
 */
import { attachControlPlane, type ControlPlane } from "../control/attach.js";
import { EngineStartError } from "../engine/supervisor.js";
import { WORKER_CONFIG_ENV, type WorkerConfig } from "./config.js";
import { startHeadWorker } from "./head.js";
import type { WorkerMessage } from "./messages.js";
import { startStageWorker } from "./stage.js";

function send(message: WorkerMessage): void {
  if (process.send && process.connected) process.send(message);
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parseConfig(raw: string | undefined): WorkerConfig {
  if (!raw) throw new Error(`${WORKER_CONFIG_ENV} is not set`);
  const config = JSON.parse(raw) as WorkerConfig;
  if (config.role !== "stage" && config.role !== "head")
    throw new Error(`${WORKER_CONFIG_ENV}: unknown role`);
  return config;
}

async function main(): Promise<void> {
  const config = parseConfig(process.env[WORKER_CONFIG_ENV]);
  let stop: () => Promise<void> = async () => {};
  let stopping = false;
  let plane: ControlPlane | undefined;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await plane?.close(code === 0 ? "worker stopped" : "worker failed");
    await stop();
    process.exit(code);
  };
  process.on("SIGTERM", () => void shutdown(0));
  process.on("SIGINT", () => void shutdown(0));
  process.on("disconnect", () => void shutdown(0));

  // Heartbeats, lifecycle events and /metrics when the supervisor or controller asks for them.
  plane = await attachControlPlane({ onShutdown: () => shutdown(0) });
  try {
    if (config.role === "stage") {
      const worker = await startStageWorker(config, {
        log,
        tunnelObserver: plane?.tunnelObserver(config.stage, false),
      });
      plane?.started({ engine: worker.engine, tunnelPort: worker.tunnelPort });
      stop = () => worker.stop();
      worker.engine.onEvent((event) => send({ type: "engine", event }));
      send({
        type: "ready",
        role: "stage",
        stage: config.stage,
        tunnelPort: worker.tunnelPort,
        enginePort: worker.enginePort,
        enginePid: worker.engine.pid ?? -1,
      });
    } else {
      const worker = await startHeadWorker(config, {
        log,
        listenerObserverFor: plane ? (stage) => plane.tunnelObserver(stage, true) : undefined,
        // With a control plane, requests pass the head's front: traces, and 503 while draining.
        front: plane?.headFront(config.host, config.port),
      });
      plane?.started({ engine: worker.engine, httpPort: worker.httpPort });
      stop = () => worker.stop();
      worker.engine.onEvent((event) => send({ type: "engine", event }));
      send({
        type: "ready",
        role: "head",
        httpPort: worker.httpPort,
        enginePid: worker.engine.pid ?? -1,
        placement: worker.placement(),
      });
    }
  } catch (err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    plane?.failed(message);
    send({ type: "failed", message, logTail: err instanceof EngineStartError ? err.logTail : [] });
    log(`worker failed: ${message}`);
    await shutdown(1);
  }
}

await main();
