/**
 * The efficiency factors Strata plans with: the shipped dense and mixture-of-experts
 * tables, looked up along the fallback chain for a GPU family and engine.
 */
import { type FactorTarget, type ResolvedEfficiency, resolveEfficiency } from "./efficiency-table.js";
import { SHIPPED_FACTORS, SHIPPED_MOE_FACTORS } from "./shipped-factors.js";

export function resolveShippedEfficiency(target: FactorTarget): ResolvedEfficiency {
  return resolveEfficiency(SHIPPED_FACTORS, target, { moeTable: SHIPPED_MOE_FACTORS });
}
