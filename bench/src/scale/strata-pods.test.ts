import { describe, expect, it } from "vitest";
import { strataPods } from "./strata-pods.js";

const spec = {
  model: {
    architecture: { layers: 80, attentionHeads: 64, kvHeads: 8 },
    source: { uri: "https://models.invalid/m" },
    servedName: "x",
  },
  engine: "vllm",
  parallelism: { mode: "explicit", tp: 8, pp: 2 },
  replicas: 2,
  gpu: { type: "h100-sxm-80g", perNode: 8 },
};
const nodes = Array.from({ length: 16 }, (_, i) => `n-${i}`);
const shape = { deployments: 3, replicas: 2, stages: 2, gpusPerPod: 8, nodesPerRack: 8 };

describe("strataPods", () => {
  const pods = strataPods(spec, shape, nodes, "ns");

  it("builds every group's pods, four groups to a rack of eight 8-GPU nodes, without owners", () => {
    expect(pods).toHaveLength(12);
    const named = (i: number) =>
      pods[i]?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms
        ?.map((t) => t.matchFields?.[0]?.values?.[0])
        .sort();
    expect(named(0)).toEqual(nodes.slice(0, 8).sort());
    expect(named(7)).toEqual(nodes.slice(0, 8).sort()); // md-1 replica 1: the fourth group
    expect(named(8)).toEqual(nodes.slice(8, 16).sort()); // md-2 replica 0: the fifth group
    for (const p of pods) {
      expect(p.metadata?.namespace).toBe("ns");
      expect(p.metadata?.ownerReferences).toBeUndefined();
    }
  });

  it("refuses a group that cannot fit in one rack", () => {
    expect(() => strataPods(spec, { ...shape, nodesPerRack: 1 }, nodes, "ns")).toThrow(
      /does not fit in one rack/,
    );
  });
});
