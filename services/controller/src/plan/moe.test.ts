import { createHash } from "node:crypto";
import { type ModelDeployment, modelDeploymentSpecSchema, vllmParallelArgs, WORKER_ENV } from "@strata/core";
import { describe, expect, it } from "vitest";
import { groupPods } from "../groups/desired.js";
import { canonicalJson, revisionHash } from "../groups/revision.js";
import { planOneReplica } from "./auto.js";
import { PlanError, resolvePlan } from "./resolve-plan.js";

const spec = (over: object) =>
  modelDeploymentSpecSchema.parse({
    model: { catalog: "deepseek-v3", source: { uri: "s3://m" }, servedName: "ds" },
    engine: "vllm",
    dtype: "fp8",
    gpu: { type: "h200-141g", perNode: 8 },
    ...over,
  });

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PlanError);
    return `${(err as PlanError).field}: ${(err as Error).message}`;
  }
  throw new Error("expected a PlanError");
}

describe("a mixture-of-experts ModelDeployment", () => {
  it("plans DeepSeek-V3 fp8 for vllm on one 8×H200 node; llamacpp gets no expert parallelism", () => {
    const vllm = resolvePlan(spec({}), planOneReplica);
    expect(vllm.gpusPerGroup).toBe(8);
    expect(vllm.summary).toMatch(/on 1×8 h200-141g per group/);
    const llamacpp = resolvePlan(spec({ engine: "llamacpp" }), planOneReplica);
    expect(llamacpp.ep).toBe(1);
  });

  it("runs explicit ep=8 as one pod of 8 GPUs that tells the worker ep, and vLLM's flags follow from the plan", () => {
    const s = spec({ parallelism: { mode: "explicit", tp: 1, pp: 1, ep: 8 } });
    const plan = resolvePlan(s, planOneReplica);
    expect(plan).toMatchObject({ tp: 1, pp: 1, ep: 8, gpusPerGroup: 8 });
    const md: ModelDeployment = {
      apiVersion: "strata.dev/v1alpha1",
      kind: "ModelDeployment",
      metadata: { name: "ds", namespace: "prod", uid: "u", generation: 1 },
      spec: s,
    };
    const [pod] = groupPods(md, plan, { replica: 0, revision: "r", domain: "d", natsUrl: "nats://n:4222" });
    expect(pod?.spec?.containers[0]?.resources?.limits?.["nvidia.com/gpu"]).toBe("8");
    const env = pod?.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === WORKER_ENV.expertParallel)?.value).toBe("8");
    expect(vllmParallelArgs(plan)).toEqual([
      "--tensor-parallel-size",
      "1",
      "--pipeline-parallel-size",
      "1",
      "--data-parallel-size",
      "8",
      "--enable-expert-parallel",
    ]);
  });

  it("keeps the revision of a plan without expert parallelism as it was before ep existed", () => {
    const s = spec({ parallelism: { mode: "explicit", tp: 8, pp: 1 } });
    const plan = resolvePlan(s, planOneReplica);
    expect(plan.ep).toBe(1);
    // The hash as revisionHash computed it before plans had ep: spec without replicas and
    // rollout, plan without summary.
    const { replicas: _r, rollout: _o, ...podFacing } = s;
    const { summary: _s, ep: _ep, ...planFacts } = plan;
    const before = createHash("sha256")
      .update(canonicalJson({ spec: podFacing, plan: planFacts }))
      .digest("hex")
      .slice(0, 10);
    expect(revisionHash(s, plan)).toBe(before);
    expect(revisionHash(s, { ...plan, ep: 8 })).not.toBe(before);
  });

  it.each([
    [{ engine: "llamacpp", parallelism: { mode: "explicit", tp: 1, pp: 1, ep: 8 } }, "needs engine: vllm"],
    [
      {
        model: { catalog: "llama-3.1-70b", source: { uri: "s3://m" }, servedName: "l" },
        parallelism: { mode: "explicit", tp: 1, pp: 1, ep: 8 },
      },
      "needs a mixture-of-experts model",
    ],
    [
      { parallelism: { mode: "explicit", tp: 2, pp: 1, ep: 6 } },
      "6 does not divide the model's 256 routed experts",
    ],
    [{ parallelism: { mode: "explicit", tp: 4, pp: 1, ep: 2 } }, "2 is not a multiple of tp 4"],
    [{ parallelism: { mode: "explicit", tp: 1, pp: 2, ep: 8 } }, "8 runs as one pipeline stage; pp is 2"],
  ])("refuses %j naming spec.parallelism.ep", (over, message) => {
    expect(fieldOf(() => resolvePlan(spec(over), planOneReplica))).toMatch(
      new RegExp(
        `^spec\\.parallelism\\.ep: spec\\.parallelism\\.ep: .*${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
      ),
    );
  });
});
