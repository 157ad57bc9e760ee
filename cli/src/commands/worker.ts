import { WORKER_ENV } from "@strata/core";
import { runWorker } from "@strata/shard-worker";
import type { Command } from "commander";

/**
 * `strata worker`: one shard worker, the command of every stage pod and of
 * every process `strata up` starts. Configured by environment variables only
 * (the worker contract in core); a missing or bad one is one line naming it,
 * exit 2. Stops on SIGTERM/SIGINT, on a `shutdown` request over NATS, and when
 * the supervisor that started it goes away.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description(
      `Run one shard worker (configured by STRATA_* environment variables: ${WORKER_ENV.deployment}, ${WORKER_ENV.stage}, ${WORKER_ENV.stageLayers}, …)`,
    )
    .action(async () => {
      let stop: (reason: string) => void = () => {};
      const worker = await runWorker(process.env, { onShutdown: () => stop("shutdown requested") });
      stop = (reason) => void worker.stop(reason);
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
      // Started by a local supervisor: its IPC channel is our lifeline.
      if (process.connected) process.once("disconnect", () => stop("supervisor gone"));
      const code = await worker.done;
      if (process.connected) process.disconnect();
      process.exit(code);
    });
}
