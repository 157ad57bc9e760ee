import { cpus } from "node:os";
import { equalStageRanges, type LayerRange, type ModelSpec } from "@strata/core";
import { type OffloadPlan, offloadPlanFor } from "./llamacpp-args.js";

export interface PipelinePlan {
  readonly numLayers: number;
  /** Inclusive layer range per stage; stage 0 is the head. */
  readonly ranges: readonly LayerRange[];
  /** The llama-server flags that realise `ranges`. */
  readonly offload: OffloadPlan;
}

/**
 * Splits a GGUF model over `stages` equal CPU stages with the planner's one
 * split function (the head's cost from its bytes, like every other caller).
 * @throws InputError("stages") when there are more stages than layers
 */
export function planEqualStages(spec: ModelSpec, stages: number): PipelinePlan {
  const ranges = equalStageRanges(spec, stages);
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
