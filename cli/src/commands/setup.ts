import { installNatsServer, NATS_SERVER_VERSION } from "@strata/runtime";
import { ensureLlamaCppBinaries, LlamaCppBuildError } from "@strata/shard-worker";
import type { Command } from "commander";

/** One thing `strata setup` installs; each is idempotent and skips itself when done. */
export interface SetupStep {
  readonly name: string;
  run(log: (line: string) => void): Promise<string>;
}

/**
 * What the product needs on this machine, in order. Add a step by adding an
 * entry (e.g. nats-server); each returns a one-line summary of what is there.
 */
export const SETUP_STEPS: SetupStep[] = [
  {
    name: "llama.cpp",
    async run(log) {
      const binaries = await ensureLlamaCppBinaries({ log });
      return `ggml-rpc-server and llama-server (node-llama-cpp ${binaries.version}) in ${binaries.llamaServer.replace(/\/[^/]+$/, "")}`;
    },
  },
  {
    // Control plane (heartbeats, lifecycle events on JetStream) for `strata up` and the tests.
    name: "nats-server",
    async run(log) {
      const line = (m: string, f?: Record<string, unknown>) => log(f ? `${m} ${JSON.stringify(f)}` : m);
      const path = await installNatsServer({ info: line, warn: line, error: line });
      return `${path} (pinned ${NATS_SERVER_VERSION} when built here)`;
    },
  },
];

/** Thrown when a step cannot complete; printed as one line. */
export class SetupError extends Error {
  override readonly name = "SetupError";
}

export async function runSetupSteps(log: (line: string) => void): Promise<void> {
  for (const step of SETUP_STEPS) {
    try {
      const summary = await step.run(log);
      log(`${step.name}: ${summary}`);
    } catch (err: unknown) {
      if (err instanceof LlamaCppBuildError)
        throw new SetupError(`${step.name}: ${err.message}`, { cause: err });
      throw err;
    }
  }
}

/** `strata setup`: builds and caches the native components (idempotent). */
export function registerSetupCommand(program: Command): void {
  program
    .command("setup")
    .description(
      "Install and cache what Strata runs locally: llama.cpp (ggml-rpc-server, llama-server) and nats-server",
    )
    .action(async () => {
      await runSetupSteps((line) => process.stderr.write(`${line}\n`));
    });
}
