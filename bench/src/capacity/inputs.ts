/**
 * Resolves model and GPU names into the figures the performance model reads: models
 * from the core catalog (parameter count and stored weight bytes from their shapes),
 * GPUs from the core GPU catalog, whose fields the model reads as they are.
 */
import {
  findGpu,
  findModel,
  type GpuSpec,
  InputError,
  MODEL_CATALOG,
  type PerfDtype,
  type PerfModelShape,
  perfModelShape,
  weightBytes,
} from "@strata/core";

export interface NamedModel extends PerfModelShape {
  readonly name: string;
}

/** @throws InputError(field) naming the known models */
export function resolveModel(name: string, dtype: PerfDtype, field = "--model"): NamedModel {
  try {
    const spec = findModel(name);
    // Embedding and head stay 16-bit in quantized checkpoints; the catalog counts them so. A
    // mixture of experts also gives its routed experts' bytes and active parameters.
    return { name: spec.name, ...perfModelShape(spec, weightBytes(spec, dtype)) };
  } catch (err: unknown) {
    if (!(err instanceof InputError)) throw err;
    // The bench takes catalog models only (no config.json or GGUF paths).
    const known = MODEL_CATALOG.map((m) => m.name).join(", ");
    throw new InputError(field, `unknown model "${name}"; known: ${known}`, { cause: err });
  }
}

/** @throws InputError(field) naming the known GPUs */
export function resolveGpu(name: string, field = "--gpus"): GpuSpec {
  return findGpu(name, field);
}
