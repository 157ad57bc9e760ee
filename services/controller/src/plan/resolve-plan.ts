import {
  assignLayers,
  equalStageRanges,
  findModel,
  type ModelDeploymentSpec,
  type ModelShape,
  type PlanStatus,
  stageWidth,
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

/** Chooses tp, pp (and ep for a mixture of experts) for `parallelism: auto`; throws PlanError when nothing fits. */
export type AutoPlanner = (
  spec: ModelDeploymentSpec,
  shape: ModelShape | undefined,
) => { tp: number; pp: number; ep?: number; summary?: string };

export interface ModelFacts {
  readonly layers: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
  /** Routed experts per MoE layer; 0 for a dense model. */
  readonly experts: number;
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
  if (arch) {
    return {
      layers: arch.layers,
      attentionHeads: arch.attentionHeads,
      kvHeads: arch.kvHeads,
      experts: arch.experts ?? 0,
      shape,
    };
  }
  if (!shape) throw new PlanError("spec.model", "set catalog or architecture");
  return {
    layers: shape.numLayers,
    attentionHeads: shape.numHeads,
    kvHeads: shape.numKvHeads,
    experts: shape.moe?.numExperts ?? 0,
    shape,
  };
}

/**
 * tp, pp, ep and the layer range of every stage. Explicit parallelism is
 * checked against the model (the API server checks it too, but objects may
 * predate a rule); `auto` asks the planner.
 */
export function resolvePlan(spec: ModelDeploymentSpec, autoPlanner: AutoPlanner): PlanStatus {
  const facts = modelFacts(spec);
  let tp: number;
  let pp: number;
  let ep = 1;
  let summary: string | undefined;
  if (spec.parallelism.mode === "explicit") {
    tp = spec.parallelism.tp ?? 1;
    pp = spec.parallelism.pp ?? 1;
    ep = spec.parallelism.ep ?? 1;
  } else {
    const auto = autoPlanner(spec, facts.shape);
    ({ tp, pp, summary } = auto);
    ep = auto.ep ?? 1;
  }
  checkExpertParallel(spec, facts, tp, pp, ep);
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
    ep,
    gpusPerGroup: stageWidth(tp, ep) * pp,
    stages: ranges.map((layers, stage) => ({ stage, layers })),
    ...(summary ? { summary } : {}),
  };
}

/**
 * Expert parallelism is vLLM's (`--enable-expert-parallel`), for a mixture of
 * experts whose expert count it divides, as tp times the data-parallel ranks,
 * in one pipeline stage on one node.
 * @throws PlanError naming spec.parallelism.ep
 */
function checkExpertParallel(
  spec: ModelDeploymentSpec,
  facts: ModelFacts,
  tp: number,
  pp: number,
  ep: number,
): void {
  if (ep <= 1) return;
  const field = "spec.parallelism.ep";
  if (spec.engine !== "vllm") {
    throw new PlanError(field, `${ep} needs engine: vllm; llama.cpp splits a model by layers`);
  }
  if (facts.experts === 0)
    throw new PlanError(field, `${ep} needs a mixture-of-experts model; this one is dense`);
  if (ep % tp !== 0) throw new PlanError(field, `${ep} is not a multiple of tp ${tp}`);
  if (facts.experts % ep !== 0) {
    throw new PlanError(field, `${ep} does not divide the model's ${facts.experts} routed experts`);
  }
  if (ep > spec.gpu.perNode) throw new PlanError(field, `${ep} exceeds gpu.perNode ${spec.gpu.perNode}`);
  if (pp > 1) throw new PlanError(field, `${ep} runs as one pipeline stage; pp is ${pp}`);
}
