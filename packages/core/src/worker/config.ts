/**
 * The shard worker's configuration contract: one set of environment
 * variables, written by the controller into every stage pod and by `strata up`
 * into every local worker process, parsed and validated once by the worker at
 * start (`strata worker`). There is no other way to configure a worker.
 */
import { z } from "zod";
import { type Engine, engineSchema } from "../engines.js";
import { InputError } from "../errors.js";
import { WEIGHT_DTYPES, type WeightDtype } from "../model/model-spec.js";
import { deploymentNameSchema } from "../names.js";
import { checkStageRanges, type LayerRange, parseLayerRange } from "../planner/layer-range.js";

/** The environment variables of the contract, by meaning. */
export const WORKER_ENV = {
  deployment: "STRATA_DEPLOYMENT",
  replica: "STRATA_REPLICA",
  /** This worker's pipeline stage; stage 0 is the head, which serves the OpenAI API. */
  stage: "STRATA_STAGE",
  /** Every stage's layers in stage order, inclusive: `0-9,10-19,20-29`. Their count is the stage count. */
  stageLayers: "STRATA_STAGE_LAYERS",
  tensorParallel: "STRATA_TENSOR_PARALLEL",
  /**
   * Expert parallelism of a mixture of experts (vllm only; default 1, none): the GPUs of
   * this stage that share the routed experts, a multiple of the tensor-parallel degree.
   * `vllmParallelArgs` turns tp, pp and ep into vLLM's flags.
   */
  expertParallel: "STRATA_EXPERT_PARALLEL",
  engine: "STRATA_ENGINE",
  /** A GGUF file (llamacpp) or a Hugging Face folder (vllm). */
  modelPath: "STRATA_MODEL_PATH",
  servedModelName: "STRATA_SERVED_MODEL_NAME",
  maxModelLength: "STRATA_MAX_MODEL_LENGTH",
  /**
   * Sequences the engine decodes at once: llama-server's slots (`--parallel`,
   * sharing one KV cache of the full context), and so the most completions one
   * request may ask for (`n`).
   */
  maxSequences: "STRATA_MAX_SEQUENCES",
  /** Weight precision a vLLM engine loads (GGUF files carry their own). */
  dtype: "STRATA_DTYPE",
  /**
   * host:port of every stage, in stage order. llama.cpp: each stage's tunnel. vLLM:
   * stage 0's is the group's rendezvous (vLLM's --master-addr and --master-port,
   * which node 0's engine listens on), every other stage's is where its worker
   * answers the head's group link (a stage's tunnel port).
   */
  stageAddresses: "STRATA_STAGE_ADDRESSES",
  tunnelToken: "STRATA_TUNNEL_TOKEN",
  /** A folder with `tls.crt`, `tls.key` (a stage serves them) and `ca.crt` (the head trusts it). */
  tunnelTlsDir: "STRATA_TUNNEL_TLS_DIR",
  /** The control plane; without it the worker runs alone (no heartbeats, no events). */
  natsUrl: "STRATA_NATS_URL",
  bindHost: "STRATA_BIND_HOST",
  /** The address other workers and the gateway reach this worker at (the pod IP in Kubernetes). */
  advertiseHost: "STRATA_ADVERTISE_HOST",
  /** /healthz, /readyz, /metrics, and on the head the OpenAI API. */
  httpPort: "STRATA_HTTP_PORT",
  tunnelPort: "STRATA_TUNNEL_PORT",
  engineThreads: "STRATA_ENGINE_THREADS",
  /** Where the engine's programs are: llama.cpp's bin folder, or vLLM's virtual environment. */
  engineHome: "STRATA_ENGINE_HOME",
  /** vllm: what the engine runs on, `gpu` (default) or `cpu` (vLLM's CPU backend). */
  device: "STRATA_DEVICE",
  /** vllm on GPUs: the share of each GPU's memory the engine may use (--gpu-memory-utilization, 0-1]. */
  gpuMemoryUtilization: "STRATA_GPU_MEMORY_UTILIZATION",
  /** vllm on CPUs: KV cache per rank in whole GiB (VLLM_CPU_KVCACHE_SPACE). */
  kvCacheGib: "STRATA_KV_CACHE_GIB",
  /** vllm on CPUs: the cores of this worker's ranks, ranks split by `|`, e.g. `0-3|4-7` (VLLM_CPU_OMP_THREADS_BIND); default `auto`. */
  cpuBind: "STRATA_CPU_BIND",
  /**
   * vllm: how long node 0 waits for the workers' answer to one step before it
   * declares the group dead (VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS). The group link
   * reports a lost rank at once; this bounds a hang nothing else notices.
   */
  stepTimeoutSeconds: "STRATA_STEP_TIMEOUT_SECONDS",
  /**
   * llama.cpp stages: a folder only this stage writes, for ggml-rpc-server's
   * tensor cache. The worker fills it with its layers' weights from
   * STRATA_MODEL_PATH before the head loads, so the head's uploads become
   * hash checks. Unset: no cache, the weights cross the tunnel.
   */
  rpcCacheDir: "STRATA_RPC_CACHE_DIR",
  /** Upper bound on that cache in bytes (the volume's free space bounds it too). */
  rpcCacheMaxBytes: "STRATA_RPC_CACHE_MAX_BYTES",
  /**
   * The pod's uid (downward API `metadata.uid`), carried in heartbeats and events so the
   * controller tells a recreated pod from its predecessor of the same name. Unset outside Kubernetes.
   */
  podUid: "STRATA_POD_UID",
} as const;

export type WorkerEnvName = (typeof WORKER_ENV)[keyof typeof WORKER_ENV];

/**
 * The tunnel's TLS files in STRATA_TUNNEL_TLS_DIR (the keys of the deployment's
 * tunnel Secret, mounted there in pods), and the one name every stage's
 * certificate carries: the head asks for it whatever address it dials, and
 * trusts only the deployment's own CA.
 */
export const TUNNEL_TLS = {
  caFile: "ca.crt",
  certFile: "tls.crt",
  keyFile: "tls.key",
  serverName: "strata-tunnel",
  mountPath: "/etc/strata/tunnel-tls",
} as const;

/** Ports a worker listens on unless told otherwise (fixed in pods, so Services can name them). */
export const WORKER_PORTS = { http: 8080, tunnel: 7070 } as const;
export const DEFAULT_WORKER_BIND_HOST = "0.0.0.0";
/** llama-server's own choice when it picks the slot count itself (`--parallel -1`). */
export const DEFAULT_MAX_SEQUENCES = 4;
/** The most slots a worker takes; a deployment's larger `workload.concurrency` is capped here. */
export const MAX_SEQUENCES_LIMIT = 4096;

export type WorkerRole = "head" | "stage";

/** Where a vLLM engine runs. */
export const VLLM_DEVICES = ["gpu", "cpu"] as const;
export type VllmDevice = (typeof VLLM_DEVICES)[number];

/**
 * A vLLM step may take this long before node 0 gives up on the group: long
 * enough for a whole chunked prefill on a CPU, far below vLLM's own 300 s.
 */
export const DEFAULT_VLLM_STEP_TIMEOUT_SECONDS = 60;

/** What a vLLM worker needs besides the common contract; present exactly when the engine is vllm. */
export interface VllmWorkerSettings {
  readonly device: VllmDevice;
  /** GPUs: --gpu-memory-utilization; vLLM's default when undefined. */
  readonly gpuMemoryUtilization?: number;
  /** CPUs: KV cache per rank, whole GiB; vLLM's default when undefined. */
  readonly kvCacheGib?: number;
  /** CPUs: VLLM_CPU_OMP_THREADS_BIND for this node's ranks; "auto" by default. */
  readonly cpuBind: string;
  readonly stepTimeoutSeconds: number;
}

/** A worker's configuration, resolved: every default applied, every rule checked. */
export interface WorkerConfig {
  readonly deployment: string;
  readonly replica: number;
  readonly stage: number;
  readonly role: WorkerRole;
  /** Every stage's layers; this worker holds `stageLayers[stage]`. */
  readonly stageLayers: readonly LayerRange[];
  readonly layers: LayerRange;
  readonly tensorParallel: number;
  /** 1 without expert parallelism. */
  readonly expertParallel: number;
  readonly engine: Engine;
  readonly modelPath: string;
  readonly servedModelName: string;
  readonly maxModelLength: number;
  /** Sequences decoded at once (engine slots); the largest `n` a request may ask for. */
  readonly maxSequences: number;
  readonly dtype?: WeightDtype;
  /** One per stage when there is more than one stage; empty otherwise. */
  readonly stageAddresses: readonly string[];
  readonly tunnelToken?: string;
  readonly tunnelTlsDir?: string;
  readonly natsUrl?: string;
  readonly bindHost: string;
  readonly advertiseHost?: string;
  readonly httpPort: number;
  readonly tunnelPort: number;
  readonly engineThreads?: number;
  readonly engineHome?: string;
  readonly vllm?: VllmWorkerSettings;
  readonly rpcCacheDir?: string;
  readonly rpcCacheMaxBytes?: number;
  readonly podUid?: string;
}

/** What a starter (the controller, `strata up`) fills in; role and layers follow from the rest. */
export type WorkerConfigInput = Omit<
  WorkerConfig,
  "role" | "layers" | "bindHost" | "httpPort" | "tunnelPort" | "expertParallel" | "maxSequences" | "vllm"
> &
  Partial<Pick<WorkerConfig, "bindHost" | "httpPort" | "tunnelPort" | "expertParallel" | "maxSequences">> & {
    readonly vllm?: Partial<VllmWorkerSettings>;
  };

const intText = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const port = intText(0, 65_535);
const hostPort = z.string().regex(/^[^\s:,]+:\d{1,5}$/, "each address must be host:port");
const nonEmpty = z.string().trim().min(1, "must not be empty");

const envSchema = z.object({
  [WORKER_ENV.deployment]: deploymentNameSchema,
  [WORKER_ENV.replica]: intText(0),
  [WORKER_ENV.stage]: intText(0),
  [WORKER_ENV.stageLayers]: nonEmpty,
  [WORKER_ENV.tensorParallel]: intText(1, 1024).default(1),
  [WORKER_ENV.expertParallel]: intText(1, 1024).default(1),
  [WORKER_ENV.engine]: engineSchema,
  [WORKER_ENV.modelPath]: nonEmpty,
  [WORKER_ENV.servedModelName]: nonEmpty,
  [WORKER_ENV.maxModelLength]: intText(1),
  [WORKER_ENV.maxSequences]: intText(1, MAX_SEQUENCES_LIMIT).default(DEFAULT_MAX_SEQUENCES),
  [WORKER_ENV.dtype]: z.enum(WEIGHT_DTYPES).optional(),
  [WORKER_ENV.stageAddresses]: z.string().optional(),
  [WORKER_ENV.tunnelToken]: nonEmpty.optional(),
  [WORKER_ENV.tunnelTlsDir]: nonEmpty.optional(),
  [WORKER_ENV.natsUrl]: nonEmpty.optional(),
  [WORKER_ENV.bindHost]: nonEmpty.default(DEFAULT_WORKER_BIND_HOST),
  [WORKER_ENV.advertiseHost]: nonEmpty.optional(),
  [WORKER_ENV.httpPort]: port.default(WORKER_PORTS.http),
  [WORKER_ENV.tunnelPort]: port.default(WORKER_PORTS.tunnel),
  [WORKER_ENV.engineThreads]: intText(1, 4096).optional(),
  [WORKER_ENV.engineHome]: nonEmpty.optional(),
  [WORKER_ENV.device]: z.enum(VLLM_DEVICES).optional(),
  [WORKER_ENV.gpuMemoryUtilization]: z
    .string()
    .regex(/^(0?\.\d+|1(\.0*)?)$/, "must be a fraction in (0, 1]")
    .transform(Number)
    .pipe(z.number().gt(0, "must be a fraction in (0, 1]").max(1))
    .optional(),
  [WORKER_ENV.kvCacheGib]: intText(1, 65_536).optional(),
  [WORKER_ENV.cpuBind]: z
    .string()
    .regex(/^(auto|nobind|[\d,-]+(\|[\d,-]+)*)$/, 'must be "auto", "nobind" or cores like 0-3|4-7')
    .optional(),
  [WORKER_ENV.stepTimeoutSeconds]: intText(1, 86_400).optional(),
  [WORKER_ENV.rpcCacheDir]: nonEmpty.optional(),
  [WORKER_ENV.rpcCacheMaxBytes]: intText(1).optional(),
  [WORKER_ENV.podUid]: z.string().trim().min(1).max(128).optional(),
});

/** Variables only the vllm engine reads, and the device each belongs to (undefined: both). */
const VLLM_ONLY: ReadonlyArray<readonly [WorkerEnvName, VllmDevice | undefined]> = [
  [WORKER_ENV.device, undefined],
  [WORKER_ENV.gpuMemoryUtilization, "gpu"],
  [WORKER_ENV.kvCacheGib, "cpu"],
  [WORKER_ENV.cpuBind, "cpu"],
  [WORKER_ENV.stepTimeoutSeconds, undefined],
];

/**
 * Reads and checks the contract's variables from `env`. Unset and empty are
 * the same. The error names the first variable at fault, as one line.
 * @throws InputError(variable name)
 */
export function parseWorkerEnv(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const present: Record<string, string> = {};
  for (const name of Object.values(WORKER_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== "") present[name] = value;
  }
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "worker environment");
    const message =
      present[name] === undefined ? "is required but not set" : (issue?.message ?? "is invalid");
    throw new InputError(name, message);
  }
  const e = parsed.data;
  const stageLayers = e[WORKER_ENV.stageLayers]
    .split(",")
    .map((part) => parseLayerRange(part, WORKER_ENV.stageLayers));
  const lastLayer = stageLayers.at(-1)?.last ?? -1;
  checkStageRanges(stageLayers, lastLayer + 1, WORKER_ENV.stageLayers);
  const stage = e[WORKER_ENV.stage];
  const layers = stageLayers[stage];
  if (layers === undefined) {
    throw new InputError(WORKER_ENV.stage, `${stage} is not one of the ${stageLayers.length} stages`);
  }
  const addresses = e[WORKER_ENV.stageAddresses];
  const stageAddresses = addresses ? addresses.split(",").map((a) => a.trim()) : [];
  for (const address of stageAddresses) {
    const ok = hostPort.safeParse(address);
    if (!ok.success)
      throw new InputError(WORKER_ENV.stageAddresses, `${JSON.stringify(address)}: each must be host:port`);
  }
  const multiStage = stageLayers.length > 1;
  if (multiStage && stageAddresses.length !== stageLayers.length) {
    throw new InputError(
      WORKER_ENV.stageAddresses,
      stageAddresses.length === 0
        ? `is required when ${WORKER_ENV.stageLayers} names ${stageLayers.length} stages`
        : `names ${stageAddresses.length} addresses for ${stageLayers.length} stages`,
    );
  }
  const ep = e[WORKER_ENV.expertParallel];
  if (ep > 1 && e[WORKER_ENV.engine] !== "vllm") {
    throw new InputError(
      WORKER_ENV.expertParallel,
      `${ep} needs the vllm engine; llama.cpp splits by layers`,
    );
  }
  if (ep > 1 && ep % e[WORKER_ENV.tensorParallel] !== 0) {
    throw new InputError(
      WORKER_ENV.expertParallel,
      `${ep} is not a multiple of ${WORKER_ENV.tensorParallel} ${e[WORKER_ENV.tensorParallel]}`,
    );
  }
  const vllm = vllmSettings(e, present);
  const cacheDir = e[WORKER_ENV.rpcCacheDir];
  if (cacheDir !== undefined && e[WORKER_ENV.engine] !== "llamacpp") {
    throw new InputError(WORKER_ENV.rpcCacheDir, "is for llama.cpp stages (ggml-rpc-server's tensor cache)");
  }
  if (e[WORKER_ENV.rpcCacheMaxBytes] !== undefined && cacheDir === undefined) {
    throw new InputError(WORKER_ENV.rpcCacheMaxBytes, `needs ${WORKER_ENV.rpcCacheDir}`);
  }
  const token = e[WORKER_ENV.tunnelToken];
  if (multiStage && e[WORKER_ENV.engine] === "llamacpp" && token === undefined) {
    throw new InputError(WORKER_ENV.tunnelToken, "is required when there is more than one llama.cpp stage");
  }
  return {
    deployment: e[WORKER_ENV.deployment],
    replica: e[WORKER_ENV.replica],
    stage,
    role: stage === 0 ? "head" : "stage",
    stageLayers,
    layers,
    tensorParallel: e[WORKER_ENV.tensorParallel],
    expertParallel: ep,
    engine: e[WORKER_ENV.engine],
    modelPath: e[WORKER_ENV.modelPath],
    servedModelName: e[WORKER_ENV.servedModelName],
    maxModelLength: e[WORKER_ENV.maxModelLength],
    maxSequences: e[WORKER_ENV.maxSequences],
    ...optional("dtype", e[WORKER_ENV.dtype]),
    stageAddresses: multiStage ? stageAddresses : [],
    ...optional("tunnelToken", token),
    ...optional("tunnelTlsDir", e[WORKER_ENV.tunnelTlsDir]),
    ...optional("natsUrl", e[WORKER_ENV.natsUrl]),
    bindHost: e[WORKER_ENV.bindHost],
    ...optional("advertiseHost", e[WORKER_ENV.advertiseHost]),
    httpPort: e[WORKER_ENV.httpPort],
    tunnelPort: e[WORKER_ENV.tunnelPort],
    ...optional("engineThreads", e[WORKER_ENV.engineThreads]),
    ...optional("engineHome", e[WORKER_ENV.engineHome]),
    ...optional("rpcCacheDir", cacheDir),
    ...optional("rpcCacheMaxBytes", e[WORKER_ENV.rpcCacheMaxBytes]),
    ...optional("podUid", e[WORKER_ENV.podUid]),
    ...optional("vllm", vllm),
  };
}

type ParsedEnv = z.output<typeof envSchema>;

/**
 * The vLLM settings, or undefined for llama.cpp.
 * @throws InputError naming a vLLM variable set for llama.cpp, or one of the other device
 */
function vllmSettings(e: ParsedEnv, present: Record<string, string>): VllmWorkerSettings | undefined {
  const engine = e[WORKER_ENV.engine];
  const device = e[WORKER_ENV.device] ?? "gpu";
  for (const [name, only] of VLLM_ONLY) {
    if (present[name] === undefined) continue;
    if (engine !== "vllm") throw new InputError(name, "is only read by the vllm engine");
    if (only !== undefined && only !== device) {
      throw new InputError(
        name,
        `applies to vLLM on ${only === "cpu" ? "CPUs" : "GPUs"}, not ${WORKER_ENV.device}=${device}`,
      );
    }
  }
  if (engine !== "vllm") return undefined;
  return {
    device,
    ...optional("gpuMemoryUtilization", e[WORKER_ENV.gpuMemoryUtilization]),
    ...optional("kvCacheGib", e[WORKER_ENV.kvCacheGib]),
    cpuBind: e[WORKER_ENV.cpuBind] ?? "auto",
    stepTimeoutSeconds: e[WORKER_ENV.stepTimeoutSeconds] ?? DEFAULT_VLLM_STEP_TIMEOUT_SECONDS,
  };
}

/**
 * The contract's variables for one worker, as text. A starter that supplies a
 * variable another way (a Secret reference, the downward API) leaves it out of
 * `input` and adds its own entry.
 */
export function workerEnv(
  input: Partial<WorkerConfigInput> & Pick<WorkerConfigInput, "stageLayers">,
): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (name: WorkerEnvName, value: string | number | undefined) => {
    if (value !== undefined) out[name] = String(value);
  };
  put(WORKER_ENV.deployment, input.deployment);
  put(WORKER_ENV.replica, input.replica);
  put(WORKER_ENV.stage, input.stage);
  put(WORKER_ENV.stageLayers, input.stageLayers.map((r) => `${r.first}-${r.last}`).join(","));
  put(WORKER_ENV.tensorParallel, input.tensorParallel);
  // Left out without expert parallelism, so dense workers' environments stay as they were.
  if (input.expertParallel !== undefined && input.expertParallel > 1) {
    put(WORKER_ENV.expertParallel, input.expertParallel);
  }
  put(WORKER_ENV.engine, input.engine);
  put(WORKER_ENV.modelPath, input.modelPath);
  put(WORKER_ENV.servedModelName, input.servedModelName);
  put(WORKER_ENV.maxModelLength, input.maxModelLength);
  put(WORKER_ENV.maxSequences, input.maxSequences);
  put(WORKER_ENV.dtype, input.dtype);
  if (input.stageAddresses && input.stageAddresses.length > 0) {
    put(WORKER_ENV.stageAddresses, input.stageAddresses.join(","));
  }
  put(WORKER_ENV.tunnelToken, input.tunnelToken);
  put(WORKER_ENV.tunnelTlsDir, input.tunnelTlsDir);
  put(WORKER_ENV.natsUrl, input.natsUrl);
  put(WORKER_ENV.bindHost, input.bindHost);
  put(WORKER_ENV.advertiseHost, input.advertiseHost);
  put(WORKER_ENV.httpPort, input.httpPort);
  put(WORKER_ENV.tunnelPort, input.tunnelPort);
  put(WORKER_ENV.engineThreads, input.engineThreads);
  put(WORKER_ENV.engineHome, input.engineHome);
  if (input.vllm) {
    put(WORKER_ENV.device, input.vllm.device);
    put(WORKER_ENV.gpuMemoryUtilization, input.vllm.gpuMemoryUtilization);
    put(WORKER_ENV.kvCacheGib, input.vllm.kvCacheGib);
    put(WORKER_ENV.cpuBind, input.vllm.cpuBind);
    put(WORKER_ENV.stepTimeoutSeconds, input.vllm.stepTimeoutSeconds);
  }
  put(WORKER_ENV.rpcCacheDir, input.rpcCacheDir);
  put(WORKER_ENV.rpcCacheMaxBytes, input.rpcCacheMaxBytes);
  put(WORKER_ENV.podUid, input.podUid);
  return out;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
