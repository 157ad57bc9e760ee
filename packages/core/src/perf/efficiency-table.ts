/**
 * Efficiency factors per GPU family and engine. Kernels, libraries and schedulers
 * differ by architecture and engine far more than by model (MI300X under vLLM
 * decodes at about half the HBM efficiency TensorRT-LLM reaches on Hopper), so the
 * three factors that carry most of that difference are set per (family, engine) cell;
 * every other factor keeps its published-range default (efficiency.ts).
 *
 * A cell exists only where measurements exist. Asking for a (family, engine) pair
 * without a cell falls back, in order, to the vendor-wide factors, the engine-wide
 * factors, then the global ones, and the answer says which scope it used and on
 * which sources that scope's factors depend.
 */
import type { PlanningEngine } from "../engines.js";
import type { GpuFamily, GpuVendor } from "../hardware/gpu-catalog.js";
import { DEFAULT_EFFICIENCY, type EfficiencyFactors } from "./efficiency.js";

/** The factors a cell sets; the rest of EfficiencyFactors stay at their defaults. */
export const CELL_FACTORS = ["memoryBandwidth", "decodeCompute", "prefillCompute"] as const;
export type CellFactorName = (typeof CELL_FACTORS)[number];
export type CellFactors = Readonly<Record<CellFactorName, number>>;

/** Most specific first: the order of the fallback chain. */
export const FACTOR_SCOPES = ["family+engine", "vendor", "engine", "global"] as const;
export type FactorScope = (typeof FACTOR_SCOPES)[number];

export interface FactorCell {
  readonly scope: FactorScope;
  /** `hopper/trtllm` (family+engine), `amd` (vendor), `vllm` (engine) or `all` (global). */
  readonly key: string;
  readonly factors: CellFactors;
  /** How many measurements the factors were fitted on. */
  readonly rows: number;
  /** The sources of those measurements: the factors depend on these and no others. */
  readonly sources: readonly string[];
}

export type FactorTable = readonly FactorCell[];

/** What the factors are looked up for. `engine` undefined: unknown, so no engine scope applies. */
export interface FactorTarget {
  readonly vendor: GpuVendor;
  readonly family: GpuFamily;
  readonly engine?: PlanningEngine | undefined;
}

export interface ResolvedEfficiency {
  readonly factors: EfficiencyFactors;
  /** `default` when the table has no cell on the chain: the published-range defaults. */
  readonly scope: FactorScope | "default";
  readonly key: string;
  readonly sources: readonly string[];
}

/** The fallback chain for a target, most specific first. */
export function factorChain(target: FactorTarget): { scope: FactorScope; key: string }[] {
  const chain: { scope: FactorScope; key: string }[] = [];
  if (target.engine !== undefined)
    chain.push({ scope: "family+engine", key: `${target.family}/${target.engine}` });
  chain.push({ scope: "vendor", key: target.vendor });
  if (target.engine !== undefined) chain.push({ scope: "engine", key: target.engine });
  chain.push({ scope: "global", key: "all" });
  return chain;
}

/** The first cell on the target's chain, applied over `base`. */
export function resolveEfficiency(
  table: FactorTable,
  target: FactorTarget,
  base: EfficiencyFactors = DEFAULT_EFFICIENCY,
): ResolvedEfficiency {
  for (const link of factorChain(target)) {
    const cell = table.find((c) => c.scope === link.scope && c.key === link.key);
    if (cell) {
      return {
        factors: { ...base, ...cell.factors },
        scope: cell.scope,
        key: cell.key,
        sources: cell.sources,
      };
    }
  }
  return { factors: base, scope: "default", key: "default", sources: [] };
}

/** One line for humans: `hopper/trtllm factors (family+engine; from 2 sources)`. */
export function describeResolved(r: ResolvedEfficiency): string {
  if (r.scope === "default") return "published-range default factors (no fitted cell)";
  const from = `${r.sources.length} source${r.sources.length === 1 ? "" : "s"}`;
  return `${r.key} factors (${r.scope} scope, fitted on ${from})`;
}
