/**
 * The planner objective `goodput`: rank layouts by the output tokens per second per
 * GPU they sustain while meeting a TTFT and a TPOT SLO, as the performance model
 * predicts them. Layouts that meet the SLOs come first, best goodput first; the
 * rest follow, closest to meeting the SLOs first, so the planner still shows the
 * nearest miss and says that no layout meets them.
 */

import { DEFAULT_PLANNING_ENGINE, type PlanningEngine } from "../engines.js";
import type { Candidate } from "../planner/evaluate.js";
import { KV_CACHE_BYTES_PER_ELEMENT } from "../planner/memory.js";
import { layoutName, type PlanObjective } from "../planner/objectives.js";
import type { EfficiencyFactors } from "./efficiency.js";
import { type GoodputPoint, goodputPoint, type LatencySlo } from "./goodput.js";
import { perfModelShape } from "./model-shape.js";
import { resolveShippedEfficiency } from "./shipped.js";
import type { PerfDtype, PerfLayout, PerfModelShape } from "./types.js";

export const GOODPUT_OBJECTIVE_NAME = "goodput";

export interface GoodputObjectiveOptions {
  readonly slo: LatencySlo;
  /** Prompt and answer length of a typical request. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** The engine the deployment would run: picks the factors per GPU family (default vllm)… */
  readonly engine?: PlanningEngine | undefined;
  /** …unless the factors are given outright. */
  readonly efficiency?: EfficiencyFactors | undefined;
}

function perfInputs(c: Candidate): { model: PerfModelShape; layout: PerfLayout } {
  const { model, weights, dtype, nodes } = c.context;
  const weightDtype: PerfDtype = dtype ?? "bf16"; // GGUF: exact bytes below; compute at the 16-bit rate
  return {
    model: perfModelShape(model, weights),
    layout: {
      tp: c.tp,
      pp: c.pp,
      ep: c.ep,
      replicas: c.dp,
      gpusPerNode: Math.min(...nodes.map((n) => n.gpusPerNode)),
      weightDtype,
      // The planner budgets a 16-bit KV cache (vLLM's default); predict with the same.
      kvDtype: KV_CACHE_BYTES_PER_ELEMENT >= 2 ? "bf16" : "fp8",
    },
  };
}

/** How far a point misses its SLOs: the worse of the two latency ratios (≤ 1 when met). */
function sloRatio(point: GoodputPoint, slo: LatencySlo): number {
  return Math.max(point.prediction.ttftMs / slo.ttftMs, point.prediction.tpotMs / slo.tpotMs);
}

function ms(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function goodputObjective(options: GoodputObjectiveOptions): PlanObjective {
  const { slo } = options;
  const cache = new WeakMap<Candidate, GoodputPoint | undefined>();
  const pointOf = (c: Candidate): GoodputPoint | undefined => {
    if (cache.has(c)) return cache.get(c);
    const { model, layout } = perfInputs(c);
    // Use the same memory share the planner budgeted, so both agree on what fits.
    const { gpu } = c.binding;
    const engine = options.engine ?? DEFAULT_PLANNING_ENGINE;
    const eff = {
      ...(options.efficiency ??
        resolveShippedEfficiency({ vendor: gpu.vendor, family: gpu.family, engine }).factors),
      usableMemoryFraction: c.context.workload.gpuMemoryUtilization,
    };
    const tokens = { inputTokens: options.inputTokens, outputTokens: options.outputTokens };
    const point = goodputPoint(model, gpu, layout, tokens, slo, eff);
    cache.set(c, point);
    return point;
  };
  // Case 1: meets the SLOs — rank by goodput per GPU. Case 2: misses — by how far.
  // Case 3: no room for one request in the model's memory budget — last.
  const rank = (c: Candidate): [number, number] => {
    const p = pointOf(c);
    if (!p) return [2, 0];
    return p.meetsSlo ? [0, -p.prediction.outputTokensPerSPerGpu] : [1, sloRatio(p, slo)];
  };
  const sloText = `TTFT ≤ ${ms(slo.ttftMs)} ms and TPOT ≤ ${ms(slo.tpotMs)} ms`;
  const describe = (c: Candidate): string => {
    const p = pointOf(c);
    if (!p) return `${layoutName(c)} has no KV-cache room for one request`;
    const q = p.prediction;
    return `${q.outputTokensPerSPerGpu.toFixed(1)} output tokens/s per GPU at ${p.concurrency} request${p.concurrency === 1 ? "" : "s"} in flight (TTFT ${ms(q.ttftMs)} ms, TPOT ${ms(q.tpotMs)} ms)`;
  };
  return {
    name: GOODPUT_OBJECTIVE_NAME,
    description:
      "most output tokens/s per GPU that meets --slo-ttft-ms and --slo-tpot-ms (performance model)",
    compare: (a, b) => {
      const [ka, va] = rank(a);
      const [kb, vb] = rank(b);
      return ka - kb || va - vb || b.tp - a.tp || a.pp - b.pp || b.dp - a.dp;
    },
    explain: (best, next) => {
      const p = pointOf(best);
      if (!p?.meetsSlo) {
        return `no layout meets ${sloText}; the closest is ${layoutName(best)} at one request per replica: ${describe(best)}`;
      }
      const runnerUp =
        next && pointOf(next)?.meetsSlo ? `; next is ${layoutName(next)} with ${describe(next)}` : "";
      return `most goodput within ${sloText}: ${describe(best)}${runnerUp}`;
    },
  };
}
