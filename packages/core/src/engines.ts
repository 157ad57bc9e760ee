/**
 * The one list of inference engines Strata knows. Planning (`strata plan`,
 * `strata bench capacity`) can assume any of them, because published
 * measurements and capacity questions span all four; a ModelDeployment can run
 * only the ones Strata has a shard-worker adapter for.
 */
import { z } from "zod";

/** Engines the performance model has efficiency factors for (or falls back from). */
export const PLANNING_ENGINES = ["vllm", "trtllm", "sglang", "llamacpp"] as const;
export type PlanningEngine = (typeof PLANNING_ENGINES)[number];

/** Engines a ModelDeployment can run: the shard worker wraps these two. */
export const ENGINES = ["llamacpp", "vllm"] as const satisfies readonly PlanningEngine[];
export type Engine = (typeof ENGINES)[number];
export const engineSchema = z.enum(ENGINES);

/** What `--engine` means when it is not given: the engine most deployments run. */
export const DEFAULT_PLANNING_ENGINE: PlanningEngine = "vllm";

export function isPlanningEngine(name: string): name is PlanningEngine {
  return (PLANNING_ENGINES as readonly string[]).includes(name);
}

export function isDeployableEngine(name: string): name is Engine {
  return (ENGINES as readonly string[]).includes(name);
}
