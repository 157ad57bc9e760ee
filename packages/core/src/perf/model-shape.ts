import {
  activeParams,
  type ModelSpec,
  moeLayerCount,
  routedExpertParams,
  totalParams,
  type WeightBreakdown,
} from "../model/model-spec.js";
import type { PerfModelShape } from "./types.js";

/**
 * The performance model's view of a planner model: its shape, parameter count and
 * stored weight bytes; for a mixture of experts also the routed experts' bytes and
 * the parameters a token actually multiplies through; for MLA the cached latent.
 * Dense models keep parameterCount as their FLOPs count (embedding included), as
 * the performance model was checked against published results with it.
 */
export function perfModelShape(spec: ModelSpec, weights: WeightBreakdown): PerfModelShape {
  const moe = spec.moe;
  return {
    numLayers: spec.numLayers,
    hiddenSize: spec.hiddenSize,
    numHeads: spec.numHeads,
    numKvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    parameterCount: totalParams(spec),
    weightBytes: weights.totalBytes,
    ...(moe
      ? {
          activeParameterCount: activeParams(spec),
          moe: {
            numExperts: moe.numExperts,
            expertsPerToken: moe.expertsPerToken,
            moeLayers: moeLayerCount(spec),
            routedExpertBytes: weights.expertBytes.reduce((a, b) => a + b, 0),
            routedExpertParameterCount: Array.from({ length: spec.numLayers }, (_, i) =>
              routedExpertParams(spec, i),
            ).reduce((a, b) => a + b, 0),
          },
        }
      : {}),
    ...(spec.mla ? { mla: { kvLoraRank: spec.mla.kvLoraRank, ropeDim: spec.mla.qkRopeHeadDim } } : {}),
  };
}
