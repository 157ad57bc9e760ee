import type { LayerRange } from "./layer-range.js";
import type { MemoryPerGpu } from "./memory.js";

/** A layout the planner also considered, ranked after the chosen one. */
export interface PlanCandidate {
  readonly tp: number;
  readonly pp: number;
  readonly dp: number;
  readonly ep: number;
  readonly gpusUsed: number;
  readonly kvCacheTokens: number;
  readonly maxConcurrentSequences: number;
}

export interface PlanStage {
  readonly index: number;
  /** The transformer blocks this stage holds. */
  readonly layers: LayerRange;
  /** Node of this stage in each replica. */
  readonly nodes: readonly string[];
  /** GPUs of this stage in one replica: tp, or ep with expert parallelism. */
  readonly gpus: number;
  /** GPU kind; with mixed pools, the tightest among the replicas. */
  readonly gpu: string;
  readonly memoryPerGpu: MemoryPerGpu;
  /** KV-cache tokens of one attention rank (a stage has ep/tp of them under expert parallelism). */
  readonly kvCacheTokens: number;
}

/**
 * The planner's answer, as `strata plan --json` prints it. `version` changes
 * when a field changes meaning; new fields may be added within a version.
 */
export interface Plan {
  /** 2: `stages[].layers` is `{first, last}` (inclusive); 1 had a `[first, last]` pair. */
  readonly version: 2;
  readonly model: string;
  /** Weight precision, or `gguf:<main tensor type>` for GGUF files. */
  readonly dtype: string;
  readonly objective: string;
  /** The node pools, each as `<nodes>x<gpus per node>x<gpu>`. */
  readonly cluster: readonly string[];
  readonly fits: boolean;
  readonly tp: number;
  readonly pp: number;
  readonly dp: number;
  /**
   * Expert parallelism: 1 splits every expert by tp; above 1 spreads the experts
   * over ep GPUs per stage, attention on ep/tp data-parallel ranks of tp GPUs
   * (vllmParallelArgs gives the engine's flags).
   */
  readonly ep: number;
  readonly gpusUsed: number;
  readonly stages: readonly PlanStage[];
  /** The tightest GPU's memory: fewest KV tokens, or the most over budget when it does not fit. */
  readonly memoryPerGpu: MemoryPerGpu;
  /** All weights of the model, stored once. */
  readonly weightsBytes: number;
  /** KV-cache tokens summed over replicas. */
  readonly kvCacheTokens: number;
  readonly kvCacheTokensPerReplica: number;
  readonly maxModelLen: number;
  /** Sequences of maxModelLen the deployment holds at once. */
  readonly maxConcurrentSequences: number;
  /** Why this layout, per the objective. */
  readonly why: string;
  /** The next best layouts that fit, best first (at most two). */
  readonly candidates: readonly PlanCandidate[];
  readonly notes: readonly string[];
}
