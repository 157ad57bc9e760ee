/**
 * Resolves model and GPU names into the figures the performance model reads.
 * Models come from the core catalog; parameter counts follow from their shapes.
 */
import { findModel, InputError, type PerfGpu, type PerfModelShape, totalParams } from "@strata/core";
import { findGpuFigures } from "./gpus.js";

export interface NamedModel extends PerfModelShape {
  readonly name: string;
}

export interface NamedGpu extends PerfGpu {
  readonly name: string;
}

/** @throws InputError(field) naming the known models */
export function resolveModel(name: string, field = "--model"): NamedModel {
  try {
    const spec = findModel(name);
    return {
      name: spec.name,
      numLayers: spec.numLayers,
      hiddenSize: spec.hiddenSize,
      numHeads: spec.numHeads,
      numKvHeads: spec.numKvHeads,
      headDim: spec.headDim,
      parameterCount: totalParams(spec),
    };
  } catch (err: unknown) {
    if (err instanceof InputError && field !== "--model")
      throw new InputError(field, err.message, { cause: err });
    throw err;
  }
}

/** @throws InputError(field) naming the known GPUs */
export function resolveGpu(name: string, field = "--gpus"): NamedGpu {
  return findGpuFigures(name, field);
}
