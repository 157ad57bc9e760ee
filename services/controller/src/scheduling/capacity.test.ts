import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { CapacityModel, type GroupRequest, NodeCapacity } from "./capacity.js";

const GPU = "nvidia.com/gpu";
const RACK = "strata.dev/rack";

function node(
  name: string,
  rack: string | undefined,
  gpus: number,
  extra: Partial<V1Node["spec"]> = {},
): V1Node {
  return {
    metadata: { name, labels: rack ? { [RACK]: rack } : {} },
    spec: { ...extra },
    status: { allocatable: { [GPU]: String(gpus) }, conditions: [{ type: "Ready", status: "True" }] },
  };
}

function gpuPod(gpus: number, nodeName?: string, domain?: string): V1Pod {
  return {
    metadata: { name: `p-${Math.random()}`, namespace: "ns" },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: "w", resources: { requests: { [GPU]: String(gpus) } } }],
      ...(domain
        ? {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    { matchExpressions: [{ key: RACK, operator: "In", values: [domain] }] },
                  ],
                },
              },
            },
          }
        : {}),
    },
    status: { phase: nodeName ? "Running" : "Pending" },
  };
}

const capacity = (nodes: V1Node[], pods: V1Pod[] = []) =>
  new CapacityModel(new NodeCapacity(nodes, GPU), pods);

const req = (pods: number, gpusPerPod: number, over: Partial<GroupRequest> = {}): GroupRequest => ({
  pods,
  gpusPerPod,
  resourceName: GPU,
  topologyKey: RACK,
  ...over,
});

describe("CapacityModel", () => {
  it("packs a group into one rack, never across racks", () => {
    const model = capacity([node("a0", "a", 8), node("b0", "b", 8)]);
    const admission = model.admit(req(2, 8));
    expect(admission.fits).toBe(false);
  });

  it("admits groups until the GPUs run out, counting groups admitted before", () => {
    const model = capacity([node("a0", "a", 8), node("a1", "a", 8), node("b0", "b", 4)]);
    // The domain's nodes come with the admission: the pods name them for the scheduler.
    expect(model.admit(req(2, 4))).toMatchObject({ fits: true, domain: "a", domainNodes: ["a0", "a1"] });
    expect(model.admit(req(2, 4))).toMatchObject({ fits: true, domain: "a" });
    const third = model.admit(req(2, 4));
    expect(third.fits).toBe(false);
    expect(!third.fits && third.reason).toContain("needs 2 pods × 4 nvidia.com/gpu in one strata.dev/rack");
  });

  it("counts bound pods and pending pods admitted into a domain", () => {
    const nodes = [node("a0", "a", 8), node("a1", "a", 8), node("b0", "b", 8), node("b1", "b", 8)];
    const pods = [gpuPod(8, "a0"), gpuPod(8, undefined, "b")];
    const model = capacity(nodes, pods);
    expect(model.admit(req(2, 8)).fits).toBe(false);
    expect(model.admit(req(1, 8))).toMatchObject({ fits: true });
  });

  it("prefers the tightest domain that fits", () => {
    const nodes = [node("a0", "a", 8), node("a1", "a", 8), node("b0", "b", 8)];
    expect(capacity(nodes).admit(req(1, 8))).toMatchObject({ fits: true, domain: "b" });
  });

  it("skips unschedulable, tainted, unlabelled and unselected nodes", () => {
    const nodes = [
      node("x", "a", 8, { unschedulable: true }),
      node("y", "a", 8, { taints: [{ key: "dedicated", value: "infer", effect: "NoSchedule" }] }),
      node("z", undefined, 8),
    ];
    const model = capacity(nodes);
    expect(model.admit(req(1, 8)).fits).toBe(false);
    const tolerated = model.admit(
      req(1, 8, { tolerations: [{ key: "dedicated", operator: "Equal", value: "infer" }] }),
    );
    expect(tolerated).toMatchObject({ fits: true, nodes: ["y"] });
    expect(model.admit(req(1, 1, { nodeSelector: { pool: "h100" } })).fits).toBe(false);
  });

  it("shares one node side between models, each counting only its own pods and admissions", () => {
    const nodes = new NodeCapacity([node("a0", "a", 8), node("b0", "b", 8)], GPU);
    const first = new CapacityModel(nodes, [gpuPod(8, "a0")]);
    expect(first.admit(req(1, 8))).toMatchObject({ fits: true, domain: "b" });
    expect(first.admit(req(1, 8)).fits).toBe(false);
    const second = new CapacityModel(nodes, []);
    expect(second.admit(req(1, 8))).toMatchObject({ fits: true, domain: "a" });
    expect(second.admit(req(1, 8))).toMatchObject({ fits: true, domain: "b" });
  });
});
