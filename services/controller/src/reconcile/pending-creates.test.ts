import type { V1Pod } from "@kubernetes/client-node";
import { LABELS } from "@strata/core";
import { describe, expect, it } from "vitest";
import { PendingCreates } from "./pending-creates.js";

const pod = (name: string, deployment = "md"): V1Pod => ({
  metadata: { name, namespace: "ns", labels: { [LABELS.deployment]: deployment } },
});
const names = (pods: readonly V1Pod[]) => pods.map((p) => p.metadata?.name).sort();

describe("PendingCreates", () => {
  it("adds created pods the cache does not show yet, stamped with their creation time", () => {
    const pending = new PendingCreates(60_000);
    pending.add([pod("a"), pod("b"), pod("x", "other")], 1_000);
    const seen = pending.withPending("ns", "md", [pod("a")], 2_000);
    expect(names(seen)).toEqual(["a", "b"]);
    const b = seen.find((p) => p.metadata?.name === "b");
    expect(b?.metadata?.creationTimestamp).toEqual(new Date(1_000));
    // "a" was seen: it is no longer pending, even if the cache loses it later (a deletion).
    expect(names(pending.withPending("ns", "md", [], 2_000))).toEqual(["b"]);
  });

  it("forgets a pod whose create failed, and every pod after the TTL", () => {
    const pending = new PendingCreates(60_000);
    pending.add([pod("a"), pod("b")], 0);
    pending.drop(pod("a"));
    expect(names(pending.withPending("ns", "md", [], 1_000))).toEqual(["b"]);
    expect(pending.withPending("ns", "md", [], 60_001)).toEqual([]);
  });

  it("lists every pending pod for capacity, dropping those the cache shows", () => {
    const pending = new PendingCreates(60_000);
    pending.add([pod("a"), pod("b", "other")], 0);
    expect(names(pending.all((key) => key === "ns/a", 1_000))).toEqual(["b"]);
    expect(names(pending.all(() => false, 1_000))).toEqual(["b"]);
  });
});
