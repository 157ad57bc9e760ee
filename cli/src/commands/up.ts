import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { InputError, type ModelSpec } from "@strata/core";
import { type RunningGateway, startLocalGateway } from "@strata/gateway";
import { resolveNatsUrl } from "@strata/runtime";
import {
  type DevicePlacement,
  ensureLlamaCppBinaries,
  type PipelinePlan,
  planEqualStages,
  readModelSpec,
  TINY_LLAMA_DEFAULTS,
  WorkerStartError,
  writeTinyLlamaGguf,
} from "@strata/shard-worker";
import type { Command } from "commander";
import { startLocalControlPlane } from "../control/local-control-plane.js";
import { port, positiveInt } from "../flags.js";
import { startLocalCluster } from "../local/local-cluster.js";

const DEFAULT_PORT = 8080;
const DEFAULT_STAGES = 3;
const DEFAULT_CONTEXT_TOKENS = 2048;

interface UpFlags {
  model?: string;
  stages: number;
  port: number;
  host: string;
  ctxSize: number;
  verbose?: boolean;
  natsUrl?: string;
}

/** The deployment name a local replica reports under (`strata status`). */
const LOCAL_DEPLOYMENT = "local";

async function assertPortFree(host: string, wanted: number): Promise<void> {
  await new Promise<void>((resolveFree, reject) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(new InputError("--port", `${host}:${wanted} is not available (${err.code ?? err.message})`)),
    );
    probe.listen(wanted, host, () => probe.close(() => resolveFree()));
  });
}

/** The default model when none is given: generated once into the cache. */
async function defaultModel(progress: (line: string) => void): Promise<string> {
  const dir = join(homedir(), ".cache", "strata", "models");
  const d = TINY_LLAMA_DEFAULTS;
  const path = join(dir, `tiny-llama-${d.layers}L-${d.hidden}d-seed${d.seed}.gguf`);
  if (!existsSync(path)) {
    await mkdir(dir, { recursive: true });
    progress(`no --model given: generating ${path}`);
    await writeTinyLlamaGguf(path);
  }
  return path;
}

/** The planner's split, with its errors naming this command's flag. */
function planStages(spec: ModelSpec, stages: number): PipelinePlan {
  try {
    return planEqualStages(spec, stages);
  } catch (err: unknown) {
    if (err instanceof InputError && err.field === "stages") {
      throw new InputError("--stages", err.message.replace(/^stages: /, ""), { cause: err });
    }
    throw err;
  }
}

function describeRange(layers: readonly number[]): string {
  const sorted = [...layers].sort((a, b) => a - b);
  return sorted.length === 0 ? "none" : `${sorted[0]}-${sorted.at(-1)}`;
}

/**
 * Compares what llama.cpp placed with the plan. Returns one line per stage,
 * or throws when any stage holds other layers than planned.
 */
export function checkPlacement(plan: PipelinePlan, placement: readonly DevicePlacement[]): string[] {
  const lines: string[] = [];
  for (const [stage, range] of plan.ranges.entries()) {
    const held = placement
      .filter((p) => p.stage === stage)
      .flatMap((p) => p.layers)
      .filter((l) => l < plan.numLayers);
    const expected = Array.from({ length: range.last - range.first + 1 }, (_, i) => range.first + i);
    const same =
      held.length === expected.length && [...held].sort((a, b) => a - b).every((l, i) => l === expected[i]);
    if (!same) {
      throw new Error(
        `stage ${stage}: llama.cpp placed layers ${describeRange(held)}, the plan says ${range.first}-${range.last}`,
      );
    }
    lines.push(`stage ${stage}: layers ${describeRange(held)} (as planned)`);
  }
  return lines;
}

function loadFailureReason(tail: readonly string[]): string {
  const reason = [...tail].reverse().find((l) => /error|failed|exception|invalid/i.test(l));
  return (reason ?? tail.at(-1) ?? "no output").replace(/^\[[^\]]*\]\s*/, "").trim();
}

/** `strata up`: the whole pipeline on this machine, as child processes. */
export function registerUpCommand(program: Command): void {
  program
    .command("up")
    .description(
      "Run a model split into pipeline stages on this machine: real llama.cpp processes, activations over the gRPC tunnel, an OpenAI-compatible endpoint",
    )
    .option("--model <path>", "GGUF model file (default: a generated tiny llama model)")
    .option(
      "--stages <n>",
      "pipeline stages (1 = a single llama-server, no RPC)",
      positiveInt,
      DEFAULT_STAGES,
    )
    .option("--port <port>", "HTTP port of the OpenAI-compatible API", port, DEFAULT_PORT)
    .option("--host <host>", "address the API binds", "127.0.0.1")
    .option("--ctx-size <tokens>", "context length", positiveInt, DEFAULT_CONTEXT_TOKENS)
    .option("--verbose", "print worker and engine logs")
    .option(
      "--nats-url <url>",
      "control plane on this NATS server (default: $NATS_URL, else a nats-server started on a free loopback port)",
    )
    .action(async (flags: UpFlags) => {
      const progress = (line: string) => process.stderr.write(`strata: ${line}\n`);
      const log = flags.verbose ? (line: string) => process.stderr.write(`${line}\n`) : () => {};
      await assertPortFree(flags.host, flags.port);
      const natsUrl = resolveNatsUrl(flags.natsUrl);
      const modelPath = flags.model ? resolve(flags.model) : await defaultModel(progress);
      const spec = await readModelSpec(modelPath, "--model");
      const plan = planStages(spec, flags.stages);
      const binaries = await ensureLlamaCppBinaries({ log: progress });
      progress(
        `${spec.numLayers} layers over ${flags.stages} stage(s): ${plan.ranges.map((r, i) => `stage ${i} ${r.first}-${r.last}`).join(", ")}`,
      );

      // Heartbeats, lifecycle events and `strata status`; stopped with the cluster.
      const local = await startLocalControlPlane({ natsUrl, deployment: LOCAL_DEPLOYMENT, progress });
      const controlPlane = {
        workerEnv: (stage: number) => {
          const range = plan.ranges[stage] ?? { first: 0, last: -1 };
          return local.workerEnv(stage, plan.ranges.length, range);
        },
        stop: () => local.stop(),
      };
      let cluster: Awaited<ReturnType<typeof startLocalCluster>>;
      try {
        cluster = await startLocalCluster({
          controlPlane,
          modelPath,
          plan,
          // The head stays on loopback; the gateway in front of it is the endpoint users see.
          host: "127.0.0.1",
          port: 0,
          contextSize: flags.ctxSize,
          binaries,
          log,
          progress,
        });
      } catch (err: unknown) {
        if (err instanceof WorkerStartError && err.message.includes("llama-server")) {
          throw new InputError(
            "--model",
            `llama.cpp cannot load ${modelPath}: ${loadFailureReason(err.logTail)}`,
          );
        }
        throw err;
      }
      try {
        if (flags.stages > 1) for (const line of checkPlacement(plan, cluster.placement)) progress(line);
      } catch (err: unknown) {
        await cluster.stop();
        throw err;
      }
      const headUrl = `http://127.0.0.1:${cluster.httpPort}`;
      let gateway: RunningGateway;
      try {
        gateway = await startLocalGateway({ headUrl, host: flags.host, port: flags.port });
      } catch (err: unknown) {
        await cluster.stop();
        throw err;
      }
      process.stdout.write(`OpenAI endpoint: ${gateway.url.replace("0.0.0.0", "127.0.0.1")}/v1\n`);
      progress(`gateway ${gateway.url} in front of the head at ${headUrl}`);
      progress("ready; Ctrl-C stops every process");

      const signalled = new Promise<string>((resolveSignal) => {
        process.once("SIGINT", () => resolveSignal("SIGINT"));
        process.once("SIGTERM", () => resolveSignal("SIGTERM"));
      });
      const reason = await Promise.race([signalled, cluster.broken.then((r) => `broken: ${r}`)]);
      progress(`stopping (${reason})`);
      await gateway.stop();
      await cluster.stop();
      if (reason.startsWith("broken")) throw new Error(reason);
    });
}
