import { modelDeploymentSpecSchema } from "@strata/core";
import { describe, expect, it } from "vitest";
import { planOneReplica } from "./auto.js";
import { PlanError, resolvePlan } from "./resolve-plan.js";

const spec = (over: object) =>
  modelDeploymentSpecSchema.parse({
    model: { catalog: "llama-3.1-405b", source: { uri: "s3://m" }, servedName: "m" },
    engine: "vllm",
    gpu: { type: "h100-sxm-80g", perNode: 8 },
    ...over,
  });

describe("auto parallelism", () => {
  it("puts 405B bf16 on two 8×H100 nodes as tp=8, pp=2", () => {
    const plan = resolvePlan(spec({ dtype: "bf16" }), planOneReplica);
    expect({ tp: plan.tp, pp: plan.pp }).toEqual({ tp: 8, pp: 2 });
    expect(plan.stages).toHaveLength(2);
  });

  it("names the field when the GPU is unknown", () => {
    expect(() => resolvePlan(spec({ gpu: { type: "tpu-v9" } }), planOneReplica)).toThrow(PlanError);
    try {
      resolvePlan(spec({ gpu: { type: "tpu-v9" } }), planOneReplica);
    } catch (err) {
      expect((err as PlanError).field).toBe("spec.gpu.type");
    }
  });

  it("rejects an explicit tp that does not divide the heads", () => {
    expect(() =>
      resolvePlan(spec({ parallelism: { mode: "explicit", tp: 3, pp: 2 } }), planOneReplica),
    ).toThrow(/spec.parallelism.tp: 3 does not divide the model's 128 attention heads/);
  });
});
