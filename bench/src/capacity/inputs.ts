/**
 * Resolves model and GPU names into the figures the performance model reads: models
 * from the core catalog (parameter count and stored weight bytes from their shapes),
 * GPUs from the core GPU catalog, whose fields the model reads as they are. A
 * published measurement may also name a model that is only in bench/data/models/
 * (a copy of its published config.json; bench/data/README.md says where each was
 * read), so the data can cover models the catalog does not list.
 */
import { existsSync, readFileSync } from "node:fs";
import {
  findGpu,
  findModel,
  type GpuSpec,
  InputError,
  MODEL_CATALOG,
  type ModelSpec,
  modelSpecFromHfConfig,
  type PerfDtype,
  type PerfModelShape,
  perfModelShape,
  weightBytes,
} from "@strata/core";

export interface NamedModel extends PerfModelShape {
  readonly name: string;
}

/** Published config.json copies of models the measurements name but the catalog lacks. */
const MEASURED_MODEL_DIR = new URL("../../data/models/", import.meta.url);

function namedModel(spec: ModelSpec, dtype: PerfDtype): NamedModel {
  // Embedding and head stay 16-bit in quantized checkpoints; the catalog counts them so. A
  // mixture of experts also gives its routed experts' bytes and active parameters.
  return { name: spec.name, ...perfModelShape(spec, weightBytes(spec, dtype)) };
}

/** @throws InputError(field) naming the known models */
export function resolveModel(name: string, dtype: PerfDtype, field = "--model"): NamedModel {
  try {
    return namedModel(findModel(name), dtype);
  } catch (err: unknown) {
    if (!(err instanceof InputError)) throw err;
    // The bench takes catalog models only (no config.json or GGUF paths).
    const known = MODEL_CATALOG.map((m) => m.name).join(", ");
    throw new InputError(field, `unknown model "${name}"; known: ${known}`, { cause: err });
  }
}

/**
 * The model a published measurement names: a catalog model, or one whose published
 * config.json is in bench/data/models/<name>.json.
 * @throws InputError(field) naming both places it looked
 */
export function resolveMeasuredModel(name: string, dtype: PerfDtype, field: string): NamedModel {
  const file = new URL(`${name}.json`, MEASURED_MODEL_DIR);
  if (/^[a-z0-9][a-z0-9.-]*$/.test(name) && existsSync(file)) {
    const json: unknown = JSON.parse(readFileSync(file, "utf8"));
    return namedModel(modelSpecFromHfConfig(json, { name, source: `bench/data/models/${name}.json` }), dtype);
  }
  try {
    return namedModel(findModel(name), dtype);
  } catch (err: unknown) {
    if (!(err instanceof InputError)) throw err;
    const known = MODEL_CATALOG.map((m) => m.name).join(", ");
    throw new InputError(
      field,
      `unknown model "${name}"; known: ${known}, or a config in bench/data/models/`,
      {
        cause: err,
      },
    );
  }
}

/** @throws InputError(field) naming the known GPUs */
export function resolveGpu(name: string, field = "--gpus"): GpuSpec {
  return findGpu(name, field);
}
