import { describe, expect, it } from "vitest";
import { type GroupSnapshot, planRollout } from "./rollout.js";

const g = (index: number, revision: string, available = true): GroupSnapshot => ({
  index,
  revision,
  available,
  exists: true,
});

describe("planRollout", () => {
  it.each([
    {
      name: "steady state: nothing to do",
      replicas: 3,
      maxSurge: 0,
      maxUnavailable: 1,
      groups: [g(0, "new"), g(1, "new"), g(2, "new")],
      want: { desiredGroups: 3, replace: [], rolling: false },
    },
    {
      name: "maxUnavailable=1: one available old group goes, the highest index first",
      replicas: 3,
      maxSurge: 0,
      maxUnavailable: 1,
      groups: [g(0, "old"), g(1, "old"), g(2, "old")],
      want: { desiredGroups: 3, replace: [2], rolling: true },
    },
    {
      name: "a replaced group not yet available blocks the next",
      replicas: 3,
      maxSurge: 0,
      maxUnavailable: 1,
      groups: [g(0, "old"), g(1, "old"), g(2, "new", false)],
      want: { desiredGroups: 3, replace: [], rolling: true },
    },
    {
      name: "an unavailable old group is replaced for free, without spending the budget",
      replicas: 3,
      maxSurge: 0,
      maxUnavailable: 1,
      groups: [g(0, "old", false), g(1, "old"), g(2, "old")],
      want: { desiredGroups: 3, replace: [0], rolling: true },
    },
    {
      name: "maxUnavailable=2 replaces two at once",
      replicas: 4,
      maxSurge: 0,
      maxUnavailable: 2,
      groups: [g(0, "old"), g(1, "old"), g(2, "old"), g(3, "old")],
      want: { desiredGroups: 4, replace: [2, 3], rolling: true },
    },
    {
      name: "maxSurge=1, maxUnavailable=0: a surge group first, nothing replaced until it is available",
      replicas: 2,
      maxSurge: 1,
      maxUnavailable: 0,
      groups: [g(0, "old"), g(1, "old")],
      want: { desiredGroups: 3, replace: [], rolling: true },
    },
    {
      name: "maxSurge=1, maxUnavailable=0: an available surge group lets one old group go",
      replicas: 2,
      maxSurge: 1,
      maxUnavailable: 0,
      groups: [g(0, "old"), g(1, "old"), g(2, "new")],
      want: { desiredGroups: 3, replace: [1], rolling: true },
    },
    {
      name: "rollout done: the surge group is released",
      replicas: 2,
      maxSurge: 1,
      maxUnavailable: 0,
      groups: [g(0, "new"), g(1, "new"), g(2, "new")],
      want: { desiredGroups: 2, replace: [], rolling: false },
    },
    {
      name: "updated but not yet available: the surge group stays",
      replicas: 2,
      maxSurge: 1,
      maxUnavailable: 0,
      groups: [g(0, "new"), g(1, "new", false), g(2, "new")],
      want: { desiredGroups: 3, replace: [], rolling: false },
    },
    {
      name: "scale down: groups past replicas go",
      replicas: 1,
      maxSurge: 0,
      maxUnavailable: 1,
      groups: [g(0, "new"), g(1, "new"), g(2, "new")],
      want: { desiredGroups: 1, replace: [], rolling: false },
    },
  ])("$name", ({ replicas, maxSurge, maxUnavailable, groups, want }) => {
    expect(planRollout({ replicas, maxSurge, maxUnavailable, targetRevision: "new", groups })).toEqual(want);
  });

  it("never takes availability below replicas - maxUnavailable (exhaustive over small cases)", () => {
    for (let replicas = 1; replicas <= 5; replicas++) {
      for (let maxUnavailable = 1; maxUnavailable <= replicas; maxUnavailable++) {
        for (let mask = 0; mask < 2 ** replicas; mask++) {
          const groups = Array.from({ length: replicas }, (_, i) => g(i, mask & (1 << i) ? "new" : "old"));
          const d = planRollout({ replicas, maxSurge: 0, maxUnavailable, targetRevision: "new", groups });
          expect(replicas - d.replace.length).toBeGreaterThanOrEqual(replicas - maxUnavailable);
          expect(d.replace.every((i) => groups[i]?.revision === "old")).toBe(true);
        }
      }
    }
  });
});
