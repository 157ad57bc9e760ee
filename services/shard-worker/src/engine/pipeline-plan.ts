import { cpus } from "node:os";
import { assignLayers, layerParams, type ModelSpec } from "@strata/core";
import { type OffloadPlan, offloadPlanFor, type StageRange } from "./llamacpp-args.js";

export interface PipelinePlan {
  readonly numLayers: number;
  /** Inclusive layer range per stage; stage 0 is the head. */
  readonly ranges: readonly StageRange[];
  /** The llama-server flags that realise `ranges`. */
  readonly offload: OffloadPlan;
}

/**
 * Splits the model over `stages` equal CPU stages with the planner. On CPU a
 * stage's cost is its compute: the embedding is a lookup (no cost), the output
 * head a hidden×vocab matmul, counted in units of one layer's weights.
 * @throws InputError("stages") when there are more stages than layers
 */
export function planEqualStages(spec: ModelSpec, stages: number): PipelinePlan {
  const ranges = assignLayers({
    numLayers: spec.numLayers,
    stageCapacities: new Array<number>(stages).fill(1),
    embeddingCost: 0,
    headCost: (spec.hiddenSize * spec.vocabSize) / layerParams(spec),
  }).map(([first, last]) => ({ first, last }));
  return { numLayers: spec.numLayers, ranges, offload: offloadPlanFor(ranges, spec.numLayers) };
}

/**
 * Threads per engine when every stage runs on this machine and shares its cores: each engine gets its share. More
 * threads than that make ggml's spin barriers burn the CPU that the other
 * stages and the tunnel processes need (on 2 cores and 3 stages, 2 threads
 * per engine measured several times slower than 1).
 */
export function threadsPerStage(stages: number): number {
  return Math.max(1, Math.floor(cpus().length / stages));
}
