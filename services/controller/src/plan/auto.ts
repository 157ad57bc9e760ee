import {
  DoesNotFitError,
  findGpu,
  findModel,
  InputError,
  type ModelDeploymentSpec,
  makePool,
  planDeployment,
} from "@strata/core";
import { type AutoPlanner, PlanError } from "./resolve-plan.js";

/** Largest group the auto planner considers, in nodes. */
export const MAX_AUTO_NODES_PER_GROUP = 32;

/**
 * `parallelism: auto` for one replica: the planner's choice on the fewest
 * nodes of the deployment's GPU type that hold the model and its KV cache for
 * the workload. It depends on the spec alone, never on which nodes exist
 * now, so the revision (and the pods) stay put while nodes come and go.
 */
export const planOneReplica: AutoPlanner = (spec: ModelDeploymentSpec) => {
  if (!spec.model.catalog) {
    throw new PlanError(
      "spec.parallelism.mode",
      "auto needs spec.model.catalog; set tp and pp with mode: explicit",
    );
  }
  let gpu: ReturnType<typeof findGpu>;
  let model: ReturnType<typeof findModel>;
  try {
    gpu = findGpu(spec.gpu.type, "spec.gpu.type");
    model = findModel(spec.model.catalog);
  } catch (err) {
    const field =
      err instanceof InputError && err.field === "spec.gpu.type" ? "spec.gpu.type" : "spec.model.catalog";
    throw new PlanError(
      field,
      err instanceof InputError ? err.message.replace(/^[^:]*: /, "") : String(err),
      { cause: err },
    );
  }
  for (let nodes = 1; nodes <= MAX_AUTO_NODES_PER_GROUP; nodes++) {
    let result: ReturnType<typeof planDeployment>;
    try {
      result = planDeployment({
        model,
        dtype: spec.dtype,
        cluster: { pools: [makePool(nodes, spec.gpu.perNode, gpu, "spec.gpu")] },
        workload: { maxModelLen: spec.workload.maxModelLength, concurrency: spec.workload.concurrency },
        // Expert parallelism is vLLM's; llama.cpp splits a model by layers.
        expertParallel: spec.engine === "vllm",
        engine: spec.engine,
      });
    } catch (err) {
      if (err instanceof InputError || err instanceof DoesNotFitError) {
        throw new PlanError("spec", err.message, { cause: err });
      }
      throw err;
    }
    const { plan } = result;
    if (plan.fits) {
      const layout = `tp=${plan.tp} pp=${plan.pp}${plan.ep > 1 ? ` ep=${plan.ep}` : ""}`;
      return {
        tp: plan.tp,
        pp: plan.pp,
        ep: plan.ep,
        summary: `${layout} on ${nodes}×${spec.gpu.perNode} ${gpu.name} per group: ${plan.why}`,
      };
    }
  }
  throw new PlanError(
    "spec.gpu",
    `${model.name} in ${spec.dtype} does not fit ${MAX_AUTO_NODES_PER_GROUP} nodes of ${spec.gpu.perNode}× ${gpu.name}`,
  );
};
