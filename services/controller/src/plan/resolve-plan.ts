import {
  assignLayers,
  equalStageRanges,
  findModel,
  type ModelDeploymentSpec,
  type ModelShape,
  type PlanStatus,
} from "@strata/core";

/** The plan could not be made; `field` names the spec field at fault. */
export class PlanError extends Error {
  override readonly name: string = "PlanError";
  constructor(
    readonly field: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** Chooses tp and pp for `parallelism: auto`; throws PlanError when nothing fits. */
export type AutoPlanner = (
  spec: ModelDeploymentSpec,
  shape: ModelShape | undefined,
) => { tp: number; pp: number; summary?: string };

export interface ModelFacts {
  readonly layers: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
  /** Full catalog shape when the model is in the catalog. */
  readonly shape: ModelShape | undefined;
}

/** The model's shape: the spec's architecture wins over the catalog. */
export function modelFacts(spec: ModelDeploymentSpec): ModelFacts {
  let shape: ModelShape | undefined;
  if (spec.model.catalog) {
    try {
      shape = findModel(spec.model.catalog);
    } catch (err) {
      if (!spec.model.architecture)
        throw new PlanError("spec.model.catalog", (err as Error).message, { cause: err });
    }
  }
  const arch = spec.model.architecture;
  if (arch) return { layers: arch.layers, attentionHeads: arch.attentionHeads, kvHeads: arch.kvHeads, shape };
  if (!shape) throw new PlanError("spec.model", "set catalog or architecture");
  return { layers: shape.numLayers, attentionHeads: shape.numHeads, kvHeads: shape.numKvHeads, shape };
}

/**
 * tp, pp and the layer range of every stage. Explicit parallelism is
 * checked against the model (the API server checks it too, but objects may
 * predate a rule); `auto` asks the planner.
 */
export function resolvePlan(spec: ModelDeploymentSpec, autoPlanner: AutoPlanner): PlanStatus {
  const facts = modelFacts(spec);
  let tp: number;
  let pp: number;
  let summary: string | undefined;
  if (spec.parallelism.mode === "explicit") {
    tp = spec.parallelism.tp ?? 1;
    pp = spec.parallelism.pp ?? 1;
  } else {
    ({ tp, pp, summary } = autoPlanner(spec, facts.shape));
  }
  if (tp > spec.gpu.perNode)
    throw new PlanError("spec.parallelism.tp", `${tp} exceeds gpu.perNode ${spec.gpu.perNode}`);
  if (facts.attentionHeads % tp !== 0) {
    throw new PlanError(
      "spec.parallelism.tp",
      `${tp} does not divide the model's ${facts.attentionHeads} attention heads`,
    );
  }
  if (pp > facts.layers)
    throw new PlanError("spec.parallelism.pp", `${pp} stages exceed the model's ${facts.layers} layers`);
  // With the catalog shape, the planner's split (the head's cost from its bytes);
  // with only the layer count, equal stages.
  const ranges = facts.shape
    ? equalStageRanges({ ...facts.shape, weights: { kind: "dtype" } }, pp, spec.dtype)
    : assignLayers({ numLayers: facts.layers, stageCapacities: new Array<number>(pp).fill(1) });
  return {
    tp,
    pp,
    gpusPerGroup: tp * pp,
    stages: ranges.map((layers, stage) => ({ stage, layers })),
    ...(summary ? { summary } : {}),
  };
}
