/**
 * Efficiency factors per GPU family and engine. Kernels, libraries and schedulers
 * differ by architecture and engine far more than by model (MI300X under vLLM
 * decodes at about half the HBM efficiency TensorRT-LLM reaches on Hopper), so the
 * five factors that carry most of that difference are set per (family, engine) cell;
 * every other factor keeps its published-range default, and each engine its
 * documented KV-cache sizing (efficiency.ts).
 *
 * A cell exists only where measurements exist. Asking for a (family, engine) pair
 * without a cell falls back, in order, to the vendor-wide factors, the engine-wide
 * factors, then the global ones, and the answer says which scope it used and on
 * which sources that scope's factors depend.
 */
import type { PlanningEngine } from "../engines.js";
import type { GpuFamily, GpuVendor } from "../hardware/gpu-catalog.js";
import { type EfficiencyFactors, engineEfficiency } from "./efficiency.js";

/** The factors a cell sets; the rest of EfficiencyFactors stay at their defaults. */
export const CELL_FACTORS = [
  "memoryBandwidth",
  "decodeCompute",
  "prefillCompute",
  "layerLatencyS",
  "requestOverheadS",
] as const;
export type CellFactorName = (typeof CELL_FACTORS)[number];

/**
 * The range each cell factor may take: shares of a datasheet peak in (0, 1], the
 * per-layer latency in seconds (efficiency.ts says where each range comes from).
 * Fits search inside these; the property tests draw from them.
 */
export const CELL_FACTOR_RANGES: Readonly<Record<CellFactorName, { min: number; max: number }>> = {
  memoryBandwidth: { min: 0.05, max: 1 },
  decodeCompute: { min: 0.05, max: 1 },
  prefillCompute: { min: 0.05, max: 1 },
  layerLatencyS: { min: 0, max: 200e-6 },
  requestOverheadS: { min: 0, max: 0.2 },
};
export type CellFactors = Readonly<Record<CellFactorName, number>>;

/**
 * The factors a mixture-of-experts cell sets (efficiency.ts says what each means).
 * They change nothing for a dense model, so they are fitted on mixture-of-experts
 * measurements alone, in a table of their own (MoeFactorTable) with the same scopes
 * and fallback chain.
 */
export const MOE_CELL_FACTORS = ["moeComputeEfficiency", "moeLayerLatencyS"] as const;
export type MoeCellFactorName = (typeof MOE_CELL_FACTORS)[number];
export type MoeCellFactors = Readonly<Record<MoeCellFactorName, number>>;

export const MOE_CELL_FACTOR_RANGES: Readonly<Record<MoeCellFactorName, { min: number; max: number }>> = {
  moeComputeEfficiency: { min: 0.05, max: 1 },
  moeLayerLatencyS: { min: 0, max: 400e-6 },
};

/** Most specific first: the order of the fallback chain. */
export const FACTOR_SCOPES = ["family+engine", "vendor", "engine", "global"] as const;
export type FactorScope = (typeof FACTOR_SCOPES)[number];

export interface FactorCell<F = CellFactors> {
  readonly scope: FactorScope;
  /** `hopper/trtllm` (family+engine), `amd` (vendor), `vllm` (engine) or `all` (global). */
  readonly key: string;
  readonly factors: F;
  /** How many measurements the factors were fitted on. */
  readonly rows: number;
  /** The sources of those measurements: the factors depend on these and no others. */
  readonly sources: readonly string[];
}

export type FactorTable = readonly FactorCell[];
export type MoeFactorTable = readonly FactorCell<MoeCellFactors>[];

/** What the factors are looked up for. `engine` undefined: unknown, so no engine scope applies. */
export interface FactorTarget {
  readonly vendor: GpuVendor;
  readonly family: GpuFamily;
  readonly engine?: PlanningEngine | undefined;
}

/** Which cell a lookup took: `default` when the table has no cell on the chain. */
export interface ResolvedCell {
  readonly scope: FactorScope | "default";
  readonly key: string;
  readonly sources: readonly string[];
}

export interface ResolvedEfficiency extends ResolvedCell {
  readonly factors: EfficiencyFactors;
  /** The cell the mixture-of-experts factors came from (applies to MoE models only). */
  readonly moe: ResolvedCell;
}

export interface ResolveOptions {
  /** Defaults under the cells: the engine's defaults (its KV-cache sizing) unless given. */
  readonly base?: EfficiencyFactors;
  /** Mixture-of-experts cells; none: the defaults (no penalty beyond the dense factors). */
  readonly moeTable?: MoeFactorTable;
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

/** The first cell of `table` on the target's chain. */
export function findCell<F>(
  table: readonly FactorCell<F>[],
  target: FactorTarget,
): FactorCell<F> | undefined {
  for (const link of factorChain(target)) {
    const cell = table.find((c) => c.scope === link.scope && c.key === link.key);
    if (cell) return cell;
  }
  return undefined;
}

const DEFAULT_CELL: ResolvedCell = { scope: "default", key: "default", sources: [] };

function resolvedCell<F>(cell: FactorCell<F> | undefined): ResolvedCell {
  return cell ? { scope: cell.scope, key: cell.key, sources: cell.sources } : DEFAULT_CELL;
}

/**
 * The efficiency factors for a target: the engine's defaults, overridden by the
 * first cell of `table` on the chain and by the first cell of the MoE table on it.
 */
export function resolveEfficiency(
  table: FactorTable,
  target: FactorTarget,
  options: ResolveOptions = {},
): ResolvedEfficiency {
  const base = options.base ?? engineEfficiency(target.engine);
  const dense = findCell(table, target);
  const moe = findCell(options.moeTable ?? [], target);
  return {
    factors: { ...base, ...dense?.factors, ...moe?.factors },
    ...resolvedCell(dense),
    moe: resolvedCell(moe),
  };
}

/**
 * One line for humans: `hopper/trtllm factors (family+engine scope, fitted on 2 sources)`,
 * naming the mixture-of-experts cell too when `moe` (the model is one).
 */
export function describeResolved(r: ResolvedEfficiency, moe = false): string {
  const experts =
    !moe || r.moe.scope === "default"
      ? ""
      : `; mixture-of-experts factors: ${r.moe.key} (${r.moe.scope} scope)`;
  if (r.scope === "default") return `published-range default factors (no fitted cell)${experts}`;
  const from = `${r.sources.length} source${r.sources.length === 1 ? "" : "s"}`;
  return `${r.key} factors (${r.scope} scope, fitted on ${from})${experts}`;
}
