import {
  type Cluster,
  findGpu,
  InputError,
  MAX_GPUS_PER_NODE,
  MAX_NODES,
  type ModelSpec,
  makePool,
  type PlanRequest,
  parsePool,
  WEIGHT_DTYPES,
  type WeightDtype,
} from "@strata/core";

/** The flags of `strata plan` as commander hands them over: strings, validated here. */
export interface PlanFlags {
  readonly model?: string;
  readonly gpu?: string;
  readonly nodes?: string;
  readonly gpusPerNode?: string;
  readonly pool?: readonly string[];
  readonly dtype?: string;
  readonly maxModelLen?: string;
  readonly concurrency?: string;
  readonly gpuMemoryUtilization?: string;
  readonly objective?: string;
  readonly json?: boolean;
}

export const DEFAULT_DTYPE: WeightDtype = "bf16";
export const DEFAULT_GPUS_PER_NODE = 8;

/**
 * Turns flags and the loaded model into a planner request, strictly.
 * Case 1: --pool given — the cluster is the pools; --gpu, --nodes and --gpus-per-node conflict.
 * Case 2: --gpu given — one pool of --nodes (default 1) × --gpus-per-node (default 8; 1 for cpu).
 * Case 3: neither — an error naming both ways.
 * @throws InputError naming the bad or conflicting flag
 */
export function resolvePlanRequest(flags: PlanFlags, model: ModelSpec): PlanRequest {
  const cluster = resolveCluster(flags);
  let dtype: WeightDtype | undefined;
  if (model.weights.kind === "gguf") {
    if (flags.dtype !== undefined) {
      throw new InputError(
        "--dtype",
        `conflicts with --model ${flags.model}: a GGUF file fixes its tensor types`,
      );
    }
  } else {
    dtype = flags.dtype === undefined ? defaultDtype(model, flags.model) : parseDtype(flags.dtype);
  }
  return {
    model,
    ...(dtype === undefined ? {} : { dtype }),
    cluster,
    workload: {
      ...(flags.maxModelLen === undefined
        ? {}
        : { maxModelLen: positiveInt("--max-model-len", flags.maxModelLen) }),
      ...(flags.concurrency === undefined
        ? {}
        : { concurrency: positiveInt("--concurrency", flags.concurrency) }),
      ...(flags.gpuMemoryUtilization === undefined
        ? {}
        : { gpuMemoryUtilization: fraction("--gpu-memory-utilization", flags.gpuMemoryUtilization) }),
    },
    ...(flags.objective === undefined ? {} : { objective: flags.objective }),
  };
}

function resolveCluster(flags: PlanFlags): Cluster {
  const pools = flags.pool ?? [];
  if (pools.length > 0) {
    for (const [flag, value] of [
      ["--gpu", flags.gpu],
      ["--nodes", flags.nodes],
      ["--gpus-per-node", flags.gpusPerNode],
    ] as const) {
      if (value !== undefined) {
        throw new InputError(
          "--pool",
          `conflicts with ${flag}: describe the cluster either with --pool or with --gpu/--nodes/--gpus-per-node`,
        );
      }
    }
    return { pools: pools.map((p) => parsePool(p, "--pool")) };
  }
  if (flags.gpu === undefined) {
    throw new InputError(
      "--gpu",
      "is required (or --pool <nodes>x<gpus per node>x<gpu>), e.g. --gpu h100-sxm-80g",
    );
  }
  const gpu = findGpu(flags.gpu, "--gpu");
  const nodes = flags.nodes === undefined ? 1 : positiveInt("--nodes", flags.nodes);
  const perNode =
    flags.gpusPerNode === undefined
      ? gpu.kind === "cpu"
        ? 1
        : DEFAULT_GPUS_PER_NODE
      : positiveInt("--gpus-per-node", flags.gpusPerNode);
  if (nodes > MAX_NODES) throw new InputError("--nodes", `must be at most ${MAX_NODES}, got ${nodes}`);
  if (perNode > MAX_GPUS_PER_NODE) {
    throw new InputError("--gpus-per-node", `must be at most ${MAX_GPUS_PER_NODE}, got ${perNode}`);
  }
  return { pools: [makePool(nodes, perNode, gpu)] };
}

/**
 * Without --dtype: the precision the checkpoint ships (config.json's
 * quantization_config or torch_dtype; the catalog's entry), else bf16.
 * @throws InputError("--dtype") when the checkpoint is quantized in a way Strata has no precision for
 */
function defaultDtype(model: ModelSpec, name: string | undefined): WeightDtype {
  if (model.weights.kind !== "dtype") return DEFAULT_DTYPE;
  if (model.weights.quantization !== undefined) {
    throw new InputError(
      "--dtype",
      `is required: ${name ?? model.name} is quantized with "${model.weights.quantization}" (quantization_config), ` +
        `which Strata cannot size; give the precision its weights are stored in (${WEIGHT_DTYPES.join(", ")})`,
    );
  }
  return model.weights.checkpointDtype ?? DEFAULT_DTYPE;
}

function parseDtype(value: string): WeightDtype {
  const d = value.trim().toLowerCase();
  if (!(WEIGHT_DTYPES as readonly string[]).includes(d)) {
    throw new InputError("--dtype", `must be one of ${WEIGHT_DTYPES.join(", ")}, got "${value}"`);
  }
  return d as WeightDtype;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InputError(flag, `must be a positive integer, got "${value}"`);
  }
  return n;
}

function fraction(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 1) {
    throw new InputError(flag, `must be a number in (0, 1], got "${value}"`);
  }
  return n;
}
