import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { lostNode } from "./nodes.js";
import { viewGroup } from "./observe.js";

const pod = (name: string, node: string): V1Pod => ({
  metadata: { name, labels: {} },
  spec: { nodeName: node, containers: [] },
  status: { phase: "Running" },
});
const node = (name: string, ready: string, sinceMs: number): V1Node => ({
  metadata: { name },
  status: { conditions: [{ type: "Ready", status: ready, lastTransitionTime: new Date(sinceMs) }] },
});

describe("lostNode", () => {
  const view = viewGroup(0, [pod("a", "n1"), pod("b", "n2")]);
  const grace = 30_000;

  it("is nothing while every node is Ready", () => {
    const nodes = { n1: node("n1", "True", 0), n2: node("n2", "True", 0) };
    expect(lostNode(view, (n) => nodes[n as "n1"], 100_000, grace)).toBeUndefined();
  });

  it("waits out the grace period, then names the node and the pods to delete without grace", () => {
    const nodes = { n1: node("n1", "True", 0), n2: node("n2", "Unknown", 50_000) };
    const get = (n: string) => nodes[n as "n1"];
    expect(lostNode(view, get, 79_999, grace)).toEqual({ kind: "grace", retryAtMs: 80_000 });
    const lost = lostNode(view, get, 80_000, grace);
    expect(lost).toMatchObject({
      kind: "lost",
      message: expect.stringMatching(/^node n2 not Ready for more than 30 s/),
    });
    expect(lost?.kind === "lost" && [...lost.pods]).toEqual(["b"]);
  });

  it("counts a node gone from the API as lost at once", () => {
    const nodes = { n1: node("n1", "True", 0) };
    expect(lostNode(view, (n) => nodes[n as "n1"], 1, grace)).toMatchObject({ kind: "lost" });
  });
});
