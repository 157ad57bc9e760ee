import type { GroupStatus, PlanStatus } from "@strata/core";
import { describe, expect, it } from "vitest";
import { conditionsFor, mergeConditions, type Summary, statusFingerprint } from "./status.js";

const plan: PlanStatus = { tp: 4, pp: 2, ep: 1, gpusPerGroup: 8, stages: [] };
const group = (replica: number, phase: GroupStatus["phase"], message?: string): GroupStatus => ({
  replica,
  revision: "r",
  phase,
  boundPods: phase === "Available" ? 2 : 0,
  readyPods: phase === "Available" ? 2 : 0,
  ...(message ? { message } : {}),
});
const summary = (over: Partial<Summary>): Summary => ({
  replicas: 3,
  maxUnavailable: 1,
  groups: [],
  rolling: false,
  unscheduled: [],
  failed: [],
  ...over,
});
const byType = (s: Summary) => Object.fromEntries(conditionsFor(plan, s).map((c) => [c.type, c]));

describe("conditionsFor", () => {
  it("all groups available: Scheduled, Available, not Progressing, not Degraded", () => {
    const c = byType(
      summary({ groups: [group(0, "Available"), group(1, "Available"), group(2, "Available")] }),
    );
    expect([c.Scheduled?.status, c.Available?.status, c.Progressing?.status, c.Degraded?.status]).toEqual([
      "True",
      "True",
      "False",
      "False",
    ]);
  });

  it("a group without room: Scheduled=False with the reason and which group", () => {
    const c = byType(
      summary({
        groups: [group(0, "Available"), group(1, "Available"), group(2, "Pending", "needs 2 pods")],
        unscheduled: [{ replica: 2, reason: "InsufficientCapacity", message: "needs 2 pods" }],
      }),
    );
    expect(c.Scheduled).toMatchObject({ status: "False", reason: "InsufficientCapacity" });
    expect(c.Scheduled?.message).toContain("group 2: needs 2 pods");
    expect(c.Available?.status).toBe("True");
    expect(c.Degraded).toMatchObject({ status: "True", reason: "GroupsUnavailable" });
  });

  it("a failed group: Degraded=True, reason GroupFailed, naming the group", () => {
    const c = byType(
      summary({
        replicas: 2,
        groups: [group(0, "Recreating"), group(1, "Available")],
        failed: [{ replica: 0, message: "1 of 2 pods failed" }],
      }),
    );
    expect(c.Degraded).toMatchObject({
      status: "True",
      reason: "GroupFailed",
      message: "group 0: 1 of 2 pods failed",
    });
  });

  it("a rollout: Progressing=True RollingUpdate and not Degraded for groups being replaced", () => {
    const c = byType(
      summary({ replicas: 2, groups: [group(0, "Recreating"), group(1, "Available")], rolling: true }),
    );
    expect(c.Progressing).toMatchObject({ status: "True", reason: "RollingUpdate" });
    expect(c.Degraded?.status).toBe("False");
  });
});

describe("mergeConditions", () => {
  it("keeps lastTransitionTime while the status holds, and moves it on a change", () => {
    const first = mergeConditions(
      undefined,
      [{ type: "Available", status: "False", reason: "x", message: "" }],
      "t1",
      1,
    );
    const same = mergeConditions(
      first,
      [{ type: "Available", status: "False", reason: "y", message: "" }],
      "t2",
      1,
    );
    const flipped = mergeConditions(
      same,
      [{ type: "Available", status: "True", reason: "y", message: "" }],
      "t3",
      1,
    );
    expect([
      first[0]?.lastTransitionTime,
      same[0]?.lastTransitionTime,
      flipped[0]?.lastTransitionTime,
    ]).toEqual(["t1", "t1", "t3"]);
  });

  it("fingerprints ignore timestamps and key order, so an unchanged status is not rewritten", () => {
    const a = {
      replicas: 1,
      readyReplicas: 1,
      updatedReplicas: 1,
      conditions: mergeConditions(
        undefined,
        [{ type: "A", status: "True", reason: "r", message: "m" }],
        "t1",
        1,
      ),
    };
    const b = {
      updatedReplicas: 1,
      readyReplicas: 1,
      replicas: 1,
      conditions: mergeConditions(
        undefined,
        [{ type: "A", status: "True", reason: "r", message: "m" }],
        "t2",
        1,
      ),
    };
    expect(statusFingerprint(a)).toBe(statusFingerprint(b));
  });
});
