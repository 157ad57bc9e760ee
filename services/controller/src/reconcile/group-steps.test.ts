import type { GroupStatus, ModelDeployment, ModelDeploymentSpec, PlanStatus } from "@strata/core";
import { describe, expect, it } from "vitest";
import { type GroupInPass, GroupSteps, type GroupStepsDeps, Pass } from "./group-steps.js";
import { conditionsFor } from "./status.js";

const md = { metadata: { name: "llama", namespace: "prod" } } as ModelDeployment;
const plan: PlanStatus = { tp: 1, pp: 2, ep: 1, gpusPerGroup: 2, stages: [] };
const base = { replica: 0, revision: "r1", boundPods: 0, readyPods: 0 };

function steps(warnings: string[]): GroupSteps {
  const unused = () => {
    throw new Error("not used by these steps");
  };
  const deps: GroupStepsDeps = {
    events: {
      normal: () => undefined,
      warning: (_md, reason, message) => warnings.push(`${reason}: ${message}`),
    },
    settings: {
      gangTimeoutMs: 60_000,
      gangBackoffBaseMs: 1_000,
      gangBackoffMaxMs: 8_000,
      capacityRetryMs: 1_000,
    },
    admit: unused,
    createGroup: unused,
    deleteGroup: async () => false,
    teardownInProgress: () => false,
    drain: unused,
    recreated: () => undefined,
    drained: () => undefined,
  };
  return new GroupSteps(deps);
}

const pass = (nowMs: number) => new Pass(md, {} as ModelDeploymentSpec, plan, "r1", nowMs);
const group = (prev: GroupStatus | undefined): GroupInPass => ({ index: 0, view: undefined, prev, base });
const scheduledReason = (p: Pass) =>
  conditionsFor(plan, {
    replicas: 1,
    maxUnavailable: 0,
    groups: p.groups,
    rolling: false,
    unscheduled: p.unscheduled,
    failed: p.failed,
  }).find((c) => c.type === "Scheduled")?.reason;

describe("GroupSteps backoff", () => {
  it("a group that failed twice before it was Available backs off, and its wait says GroupFailed", async () => {
    const warnings: string[] = [];
    const s = steps(warnings);
    const first = pass(0);
    await s.recreateFailed(first, group(undefined), "stage 1 exited: model not found");
    expect(first.groups[0]).toMatchObject({ phase: "Recreating", attempts: 1 });
    const second = pass(1_000);
    await s.recreateFailed(second, group(first.groups[0]), "stage 1 exited: model not found");
    expect(second.groups[0]).toMatchObject({ phase: "Backoff", attempts: 2, reason: "GroupFailed" });
    expect(warnings.at(-1)).toMatch(/^GroupFailed: group 0: .*failed 2 times in a row, retrying in 1s$/);

    const waiting = pass(1_500);
    s.wait(waiting, group(second.groups[0]), "backoff");
    expect(waiting.groups[0]).toMatchObject({ phase: "Backoff", reason: "GroupFailed" });
    expect(waiting.unscheduled).toEqual([
      { replica: 0, reason: "GroupFailed", message: expect.stringMatching(/model not found/) },
    ]);
    expect(scheduledReason(waiting)).toBe("GroupFailed");
  });

  it("a group not bound within the gang timeout backs off, and its wait says GangTimeout", async () => {
    const s = steps([]);
    const timedOut = pass(0);
    await s.retryAfterGangTimeout(timedOut, group(undefined), "1 of 2 pods bound");
    expect(timedOut.groups[0]).toMatchObject({ phase: "Backoff", attempts: 1, reason: "GangTimeout" });
    const waiting = pass(500);
    s.wait(waiting, group(timedOut.groups[0]), "backoff");
    expect(waiting.unscheduled[0]?.reason).toBe("GangTimeout");
    expect(scheduledReason(waiting)).toBe("GangTimeout");
  });

  it("a Backoff status from an earlier Strata (no reason) still reads as GangTimeout", () => {
    const waiting = pass(0);
    steps([]).wait(
      waiting,
      group({ ...base, phase: "Backoff", attempts: 1, retryAfter: new Date(5_000).toISOString() }),
      "backoff",
    );
    expect(waiting.groups[0]?.reason).toBeUndefined();
    expect(waiting.unscheduled[0]?.reason).toBe("GangTimeout");
  });
});
