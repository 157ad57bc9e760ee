import { isPlanningEngine, PLANNING_ENGINES, type PlanningEngine } from "@strata/core";
import { InvalidArgumentError } from "commander";

/** Commander argument parsers that reject bad values with a message naming the rule. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`must be a positive integer, got "${value}"`);
  }
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`must be a non-negative integer, got "${value}"`);
  }
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`must be a positive number, got "${value}"`);
  }
  return n;
}

/** A TCP port, 1–65535. */
export function port(value: string): number {
  const n = positiveInt(value);
  if (n > 65535) throw new InvalidArgumentError(`must be a port between 1 and 65535, got "${value}"`);
  return n;
}

/** An engine the performance model plans for (`--engine`). */
export function planningEngine(value: string): PlanningEngine {
  if (!isPlanningEngine(value)) {
    throw new InvalidArgumentError(`must be one of ${PLANNING_ENGINES.join(", ")}, got "${value}"`);
  }
  return value;
}
