import { createServer, type Server as NetServer } from "node:net";
import { join, resolve } from "node:path";
import {
  type LocalRpcCache,
  type RunningCluster,
  startLocalCluster,
  startLocalStateKeeper,
  WorkerStartError,
} from "@strata/controller";
import {
  ENGINES,
  type Engine,
  equalStageRanges,
  formatLayerRange,
  InputError,
  type LayerRange,
  layerCount,
  type ModelSpec,
} from "@strata/core";
import { type RunningGateway, startLocalGateway } from "@strata/gateway";
import { resolveNatsUrl } from "@strata/runtime";
import {
  type ChosenModel,
  chooseModel,
  DEFAULT_MODEL_NAME,
  type DevicePlacement,
  ensureLlamaCppBinaries,
  ModelPullError,
  readModelSpec,
  strataCacheRoot,
} from "@strata/shard-worker";
import { type Command, Option } from "commander";
import { port, positiveInt } from "../flags.js";
import { checkTensorParallel, defaultVllmModel, installedVllmHome, readVllmModel } from "../up/vllm-model.js";
import { workerCommand } from "../worker-command.js";

const DEFAULT_PORT = 8080;
const DEFAULT_STAGES = 3;
const DEFAULT_CONTEXT_TOKENS = 2048;
/** KV cache per vLLM rank on this machine's CPUs: small, so two ranks and the rest fit beside each other. */
const DEFAULT_VLLM_KV_CACHE_GIB = 1;

interface UpFlags {
  model?: string;
  servedName?: string;
  engine: Engine;
  tp?: number;
  kvCacheGib: number;
  stages: number;
  port: number;
  host: string;
  ctxSize: number;
  verbose?: boolean;
  natsUrl?: string;
  /** false with --no-rpc-cache. */
  rpcCache: boolean;
  rpcCacheDir?: string;
}

/** The deployment name a local replica reports under (`strata status`). */
const LOCAL_DEPLOYMENT = "local";

/**
 * Binds the gateway's port at once and holds it while the model loads (minutes
 * with vLLM), so another process cannot take it meanwhile; the gateway takes
 * the socket over.
 */
async function reservePort(host: string, wanted: number): Promise<NetServer> {
  const reserved = createServer();
  await new Promise<void>((resolveBound, reject) => {
    reserved.once("error", (err: NodeJS.ErrnoException) =>
      reject(new InputError("--port", `${host}:${wanted} is not available (${err.code ?? err.message})`)),
    );
    reserved.listen(wanted, host, () => resolveBound());
  });
  return reserved;
}

/**
 * The model to serve: the default (pulled when not cached) unless --model names
 * a catalog model or a file. When the default cannot be fetched, the generated
 * model serves instead, and one line says so.
 */
async function modelToServe(
  requested: string | undefined,
  progress: (line: string) => void,
): Promise<ChosenModel> {
  let chosen: ChosenModel;
  try {
    chosen = await chooseModel(requested, { log: progress });
  } catch (err: unknown) {
    if (err instanceof ModelPullError) throw new InputError("--model", err.message, { cause: err });
    throw err;
  }
  if (chosen.fallbackReason !== undefined) {
    progress(
      `cannot fetch ${DEFAULT_MODEL_NAME} (${chosen.fallbackReason}); serving the generated ${chosen.servedName} instead (random weights: its answers are noise)`,
    );
  }
  return chosen;
}

/** The planner's split, with its errors naming this command's flag. */
function planStages(spec: ModelSpec, stages: number): LayerRange[] {
  try {
    // A Hugging Face model's precision scales every layer and the head alike; the split only needs their ratio.
    return equalStageRanges(spec, stages, spec.weights.kind === "gguf" ? undefined : "bf16");
  } catch (err: unknown) {
    if (err instanceof InputError && err.field === "stages") {
      throw new InputError("--stages", err.message.replace(/^stages: /, ""), { cause: err });
    }
    throw err;
  }
}

/**
 * Stage tensor caches (on by default: local stages read the same model file):
 * a folder of this run's own, removed at exit, unless --rpc-cache-dir names
 * one to keep.
 */
function rpcCacheChoice(flags: UpFlags): LocalRpcCache | undefined {
  if (!flags.rpcCache) {
    if (flags.rpcCacheDir !== undefined) {
      throw new InputError("--rpc-cache-dir", "cannot be used with --no-rpc-cache");
    }
    return undefined;
  }
  return flags.rpcCacheDir !== undefined
    ? { where: { dir: resolve(flags.rpcCacheDir) } }
    : { where: { privateUnder: join(strataCacheRoot(), "rpc-cache") } };
}

/** One line per stage saying what llama.cpp placed there (the head checked it against the plan). */
function placementLines(stageLayers: readonly LayerRange[], placement: readonly DevicePlacement[]): string[] {
  return stageLayers.map((range, stage) => {
    const held = placement
      .filter((p) => p.stage === stage)
      .flatMap((p) => p.layers)
      .filter((l) => l <= (stageLayers.at(-1)?.last ?? 0));
    return `stage ${stage}: layers ${formatLayerRange(range)} (${held.length} of ${layerCount(range)} placed as planned)`;
  });
}

function loadFailureReason(tail: readonly string[]): string {
  const reason = [...tail].reverse().find((l) => /error|failed|exception|invalid/i.test(l));
  return (reason ?? tail.at(-1) ?? "no output")
    .replace(/^\[[^\]]*\]\s*/, "")
    .replace(/^strata worker: /, "")
    .trim();
}

/** What differs between engines before the workers start. */
interface UpEngine {
  readonly modelPath: string;
  readonly spec: ModelSpec;
  readonly servedName: string;
  readonly engineHome: string;
  readonly vllm?: { readonly tensorParallel: number; readonly kvCacheGib: number };
}

/** llama.cpp: a GGUF file or a catalog model (SmolLM2 by default) and the cached llama.cpp build. */
async function prepareLlamaCpp(flags: UpFlags, progress: (line: string) => void): Promise<UpEngine> {
  if (flags.tp !== undefined) {
    throw new InputError("--tp", "needs --engine vllm (llama.cpp splits a model by layers, not tensors)");
  }
  const model = await modelToServe(flags.model, progress);
  const spec = await readModelSpec(model.path, "--model");
  const binaries = await ensureLlamaCppBinaries({ log: progress });
  return {
    modelPath: model.path,
    spec,
    servedName: flags.servedName ?? model.servedName,
    engineHome: binaries.binDir,
  };
}

/** vLLM: a Hugging Face folder (SmolLM2 converted once by default) and the installed vLLM. */
async function prepareVllm(flags: UpFlags, progress: (line: string) => void): Promise<UpEngine> {
  const engineHome = installedVllmHome();
  const model = await readVllmModel(flags.model ?? (await defaultVllmModel(progress)));
  const tensorParallel = flags.tp ?? 1;
  checkTensorParallel(model.spec, tensorParallel);
  return {
    modelPath: model.path,
    spec: model.spec,
    servedName: flags.servedName ?? model.shortName,
    engineHome,
    vllm: { tensorParallel, kvCacheGib: flags.kvCacheGib },
  };
}

/** `strata up`: the whole pipeline on this machine, as child processes. */
export function registerUpCommand(program: Command): void {
  program
    .command("up")
    .description(
      "Run a model split into pipeline stages on this machine: real llama.cpp processes with activations over the gRPC tunnel, or (--engine vllm) one multi-node vLLM instance; an OpenAI-compatible endpoint",
    )
    .addOption(new Option("--engine <engine>", "inference engine").choices(ENGINES).default("llamacpp"))
    .option(
      "--model <name|path>",
      `llamacpp: a GGUF file, or a catalog model that \`strata model pull\` fetches (default: ${DEFAULT_MODEL_NAME}, pulled when not cached; the generated tiny model when it cannot be fetched); vllm: a Hugging Face model folder (default: SmolLM2-135M-Instruct, converted once into the cache)`,
    )
    .option(
      "--served-name <name>",
      "the model's name in the OpenAI API (default: the catalog name, or the file's name without .gguf)",
    )
    .option(
      "--stages <n>",
      "pipeline stages (1 = a single llama-server, no RPC)",
      positiveInt,
      DEFAULT_STAGES,
    )
    .option("--tp <n>", "vllm: tensor-parallel ranks per stage (must divide the model's heads)", positiveInt)
    .option(
      "--kv-cache-gib <n>",
      "vllm: KV cache per rank in GiB (VLLM_CPU_KVCACHE_SPACE)",
      positiveInt,
      DEFAULT_VLLM_KV_CACHE_GIB,
    )
    .option("--port <port>", "HTTP port of the OpenAI-compatible API", port, DEFAULT_PORT)
    .option("--host <host>", "address the API binds", "127.0.0.1")
    .option("--ctx-size <tokens>", "context length", positiveInt, DEFAULT_CONTEXT_TOKENS)
    .option("--verbose", "print worker and engine logs")
    .option(
      "--no-rpc-cache",
      "stages do not pre-load their weights into ggml-rpc-server's tensor cache (the head sends them through the tunnel)",
    )
    .option(
      "--rpc-cache-dir <dir>",
      "keep the stages' tensor caches in this folder across runs (default: a folder of the run's own, removed at exit)",
    )
    .option(
      "--nats-url <url>",
      "control plane on this NATS server (default: $NATS_URL, else a nats-server started on a free loopback port)",
    )
    .action(async (flags: UpFlags) => {
      const reserved = await reservePort(flags.host, flags.port);
      let gatewayOnPort = false;
      try {
        await up(flags, reserved, () => {
          gatewayOnPort = true;
        });
      } finally {
        // Until the gateway took it over, the reservation is this command's to release.
        if (!gatewayOnPort) reserved.close();
      }
    });
}

/** Everything after the port is reserved: model, stages, cluster, then the gateway on that port until stopped. */
async function up(flags: UpFlags, reserved: NetServer, onGatewayListening: () => void): Promise<void> {
  const progress = (line: string) => process.stderr.write(`strata: ${line}\n`);
  const log = flags.verbose ? (line: string) => process.stderr.write(`${line}\n`) : () => {};
  const rpcCache = rpcCacheChoice(flags);
  const natsUrl = resolveNatsUrl(flags.natsUrl);
  if (flags.servedName?.trim() === "") throw new InputError("--served-name", "must not be empty");
  const prepared =
    flags.engine === "vllm" ? await prepareVllm(flags, progress) : await prepareLlamaCpp(flags, progress);
  const { modelPath, spec, servedName } = prepared;
  const stageLayers = planStages(spec, flags.stages);
  progress(
    `${spec.numLayers} layers over ${flags.stages} stage(s): ${stageLayers.map((r, i) => `stage ${i} ${formatLayerRange(r)}`).join(", ")}`,
  );

  // Heartbeats, lifecycle events and `strata status`; stopped with the cluster.
  const keeper = await startLocalStateKeeper({ natsUrl, progress });
  let cluster: RunningCluster;
  try {
    cluster = await startLocalCluster({
      workerCommand: workerCommand(),
      deployment: LOCAL_DEPLOYMENT,
      engine: flags.engine,
      modelPath,
      servedName,
      stageLayers,
      maxModelLength: flags.ctxSize,
      engineHome: prepared.engineHome,
      natsUrl: keeper.natsUrl,
      log,
      progress,
      ...(prepared.vllm ? { vllm: prepared.vllm } : {}),
      ...(rpcCache === undefined ? {} : { rpcCache }),
    });
  } catch (err: unknown) {
    await keeper.stop();
    if (err instanceof WorkerStartError && flags.engine === "vllm") {
      throw new Error(`vLLM did not start: ${err.message}: ${loadFailureReason(err.tail)}`, {
        cause: err,
      });
    }
    if (err instanceof WorkerStartError && err.message.startsWith("head")) {
      throw new InputError("--model", `llama.cpp cannot load ${modelPath}: ${loadFailureReason(err.tail)}`);
    }
    throw err;
  }
  const stopCluster = async () => {
    await cluster.stop();
    await keeper.stop();
  };
  if (flags.engine === "vllm") {
    const kv = cluster.headReport.kvCacheTokens;
    for (const [stage, range] of stageLayers.entries()) {
      progress(
        `stage ${stage}: layers ${formatLayerRange(range)} (vLLM node ${stage}, pipeline rank ${stage})`,
      );
    }
    if (typeof kv === "number") progress(`vLLM KV cache: ${kv} tokens per rank`);
  } else if (flags.stages > 1) {
    const placement = (cluster.headReport.placement ?? []) as DevicePlacement[];
    for (const line of placementLines(stageLayers, placement)) progress(line);
  }
  let gateway: RunningGateway;
  try {
    gateway = await startLocalGateway({
      headUrl: cluster.headUrl,
      host: flags.host,
      port: flags.port,
      listenOn: reserved,
    });
    onGatewayListening();
  } catch (err: unknown) {
    await stopCluster();
    throw err;
  }
  process.stdout.write(`OpenAI endpoint: ${gateway.url.replace("0.0.0.0", "127.0.0.1")}/v1\n`);
  progress(`serving ${servedName}; gateway ${gateway.url} in front of the head at ${cluster.headUrl}`);
  progress("ready; Ctrl-C stops every process");

  const signalled = new Promise<string>((resolveSignal) => {
    process.once("SIGINT", () => resolveSignal("SIGINT"));
    process.once("SIGTERM", () => resolveSignal("SIGTERM"));
  });
  const reason = await Promise.race([signalled, cluster.broken.then((r) => `broken: ${r}`)]);
  progress(`stopping (${reason})`);
  await gateway.stop();
  await stopCluster();
  if (reason.startsWith("broken")) throw new Error(reason);
}
