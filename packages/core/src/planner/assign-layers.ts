import { InputError } from "../errors.js";
import { type ModelSpec, type WeightBreakdown, type WeightDtype, weightBytes } from "../model/model-spec.js";
import type { LayerRange } from "./layer-range.js";

export interface AssignLayersInput {
  /** Transformer blocks to place; at least one per stage. */
  readonly numLayers: number;
  /**
   * Relative capacity of each stage, in pipeline order (any positive unit:
   * free bytes, memory bandwidth, 1 for equal stages). Layers go in proportion.
   */
  readonly stageCapacities: readonly number[];
  /** Load of the token embedding on the first stage, in units of one layer. Default 0. */
  readonly embeddingCost?: number;
  /** Load of the output head (and its logits) on the last stage, in units of one layer. Default 0. */
  readonly headCost?: number;
  /**
   * Optional hard cap of layers per stage (e.g. what fits in its memory). Caps
   * are honoured while any stage has room; past that, layers still go where the
   * load is lowest, and the caller sees the overflow against its own budget.
   */
  readonly maxLayersPerStage?: readonly number[];
}

/**
 * Splits `numLayers` transformer blocks into contiguous ranges, one per stage,
 * in order, covering every block exactly once, minimizing the largest
 * load / capacity over the stages, where a stage's load is its layer count
 * plus the embedding (first stage) and head (last stage) costs.
 *
 * Starting from one layer per stage, each further layer goes to the stage
 * whose load / capacity would stay lowest (ties: the earlier stage). For
 * min-max with uniform layers this greedy is optimal, and it is deterministic.
 *
 * Example (local mode, three equal CPU stages):
 *   assignLayers({ numLayers: 32, stageCapacities: [1, 1, 1], embeddingCost: 1, headCost: 1 })
 *   → [{first: 0, last: 10}, {first: 11, last: 21}, {first: 22, last: 31}]
 * @throws InputError("stages") when there are more stages than layers or a capacity is not positive
 */
export function assignLayers(input: AssignLayersInput): LayerRange[] {
  const { numLayers, stageCapacities } = input;
  const stages = stageCapacities.length;
  if (!Number.isSafeInteger(numLayers) || numLayers <= 0) {
    throw new InputError("layers", `must be a positive integer, got ${numLayers}`);
  }
  if (stages === 0) throw new InputError("stages", "need at least one stage");
  if (stages > numLayers) {
    throw new InputError("stages", `${stages} stages cannot share ${numLayers} layers (at least one each)`);
  }
  for (const c of stageCapacities) {
    if (!(Number.isFinite(c) && c > 0)) throw new InputError("stages", `capacity must be positive, got ${c}`);
  }
  const extra = stageCapacities.map(
    (_, s) => (s === 0 ? (input.embeddingCost ?? 0) : 0) + (s === stages - 1 ? (input.headCost ?? 0) : 0),
  );
  const caps = input.maxLayersPerStage;
  const counts = new Array<number>(stages).fill(1);
  const ratioWith = (s: number, n: number): number => (n + (extra[s] ?? 0)) / (stageCapacities[s] ?? 1);

  for (let placed = stages; placed < numLayers; placed++) {
    let best = -1;
    let bestCapped = true;
    let bestRatio = Number.POSITIVE_INFINITY;
    for (let s = 0; s < stages; s++) {
      const n = counts[s] ?? 0;
      const capped = caps !== undefined && n >= (caps[s] ?? Number.POSITIVE_INFINITY);
      const ratio = ratioWith(s, n + 1);
      // A stage with room beats a full one; then the lower resulting load wins.
      if ((bestCapped && !capped) || (capped === bestCapped && ratio < bestRatio)) {
        best = s;
        bestCapped = capped;
        bestRatio = ratio;
      }
    }
    counts[best] = (counts[best] ?? 0) + 1;
  }

  const ranges: LayerRange[] = [];
  let first = 0;
  for (const n of counts) {
    ranges.push({ first, last: first + n - 1 });
    first += n;
  }
  return ranges;
}

/**
 * The output head's load on the last stage, in units of one mean decoder
 * layer: the bytes a decode step streams for it (the head and final norm, plus
 * a copy of a tied embedding when the last stage is not also the first). The
 * one head-cost formula for every caller of `assignLayers`: the planner, the
 * controller and local mode.
 */
export function headCostInLayers(weights: WeightBreakdown, stages: number): number {
  const layers = weights.layerBytes;
  const meanLayerBytes = layers.reduce((a, b) => a + b, 0) / Math.max(1, layers.length);
  if (!(meanLayerBytes > 0)) return 0;
  return (weights.headBytes + (stages > 1 ? weights.tiedHeadCopyBytes : 0)) / meanLayerBytes;
}

/**
 * Ranges for `stages` stages of equal capacity (one machine's CPU stages, or
 * a ModelDeployment's identical GPU groups), with the head's cost from its
 * weights. `dtype` is required for checkpoint models and absent for GGUF.
 * @throws InputError("stages") when there are more stages than layers
 */
export function equalStageRanges(model: ModelSpec, stages: number, dtype?: WeightDtype): LayerRange[] {
  return assignLayers({
    numLayers: model.numLayers,
    stageCapacities: new Array<number>(stages).fill(1),
    headCost: headCostInLayers(weightBytes(model, dtype), stages),
  });
}
