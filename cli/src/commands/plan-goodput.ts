import {
  DEFAULT_PLANNING_ENGINE,
  GOODPUT_OBJECTIVE_NAME,
  goodputObjective,
  InputError,
  type PlanningEngine,
  type PlanObjective,
} from "@strata/core";
import type { Command } from "commander";
import { planningEngine, positiveInt, positiveNumber } from "../flags.js";

const DEFAULT_REQUEST_TOKENS = 1000;

export interface GoodputFlags {
  objective?: string;
  sloTtftMs?: number;
  sloTpotMs?: number;
  isl?: number;
  osl?: number;
  engine?: PlanningEngine;
}

/** The flags of `strata plan --objective goodput`. */
export function addGoodputOptions(command: Command): Command {
  return command
    .option("--slo-ttft-ms <ms>", "with --objective goodput: time-to-first-token SLO", positiveNumber)
    .option("--slo-tpot-ms <ms>", "with --objective goodput: time-per-output-token SLO", positiveNumber)
    .option(
      "--isl <n>",
      `with --objective goodput: prompt tokens per request (default ${DEFAULT_REQUEST_TOKENS})`,
      positiveInt,
    )
    .option(
      "--osl <n>",
      `with --objective goodput: output tokens per request (default ${DEFAULT_REQUEST_TOKENS})`,
      positiveInt,
    )
    .option(
      "--engine <engine>",
      `with --objective goodput: engine whose efficiency factors predict the latencies (default ${DEFAULT_PLANNING_ENGINE})`,
      planningEngine,
    );
}

/**
 * The objectives to add to the planner's built-ins: `goodput` when asked for, built
 * from the SLO flags.
 * @throws InputError when goodput lacks an SLO, or goodput flags come without it
 */
export function goodputObjectives(flags: GoodputFlags): ReadonlyMap<string, PlanObjective> {
  const given = (["sloTtftMs", "sloTpotMs", "isl", "osl", "engine"] as const).filter(
    (k) => flags[k] !== undefined,
  );
  if (flags.objective !== GOODPUT_OBJECTIVE_NAME) {
    const first = given[0];
    if (first !== undefined) {
      const flag = `--${first.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new InputError(flag, `only applies with --objective ${GOODPUT_OBJECTIVE_NAME}`);
    }
    return new Map();
  }
  if (flags.sloTtftMs === undefined)
    throw new InputError("--slo-ttft-ms", "is required with --objective goodput");
  if (flags.sloTpotMs === undefined)
    throw new InputError("--slo-tpot-ms", "is required with --objective goodput");
  const objective = goodputObjective({
    slo: { ttftMs: flags.sloTtftMs, tpotMs: flags.sloTpotMs },
    inputTokens: flags.isl ?? DEFAULT_REQUEST_TOKENS,
    outputTokens: flags.osl ?? DEFAULT_REQUEST_TOKENS,
    engine: flags.engine ?? DEFAULT_PLANNING_ENGINE,
  });
  return new Map([[objective.name, objective]]);
}
