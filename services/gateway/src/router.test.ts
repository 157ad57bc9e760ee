import { describe, expect, it } from "vitest";
import type { ReplicaState } from "./replicas.js";
import { chooseReplica, type RoutingPolicy } from "./router.js";

const policy: RoutingPolicy = { maxQueuePerReplica: 4, loadStaleAfterMs: 1_000 };
const now = 10_000;

function replica(id: string, outstanding = 0, load?: { waiting: number; kvUsage: number; atMs?: number }) {
  const state: ReplicaState = {
    endpoint: { id, model: "m", url: `http://127.0.0.1:1/${id}` },
    outstanding,
    load: load ? { waiting: load.waiting, kvUsage: load.kvUsage, atMs: load.atMs ?? now } : undefined,
    ejectedUntilMs: 0,
    serving: true,
  };
  return state;
}

const pick = (rs: ReplicaState[], tried: string[] = []) => {
  const d = chooseReplica(rs, new Set(tried), now, policy, () => 0.5);
  return d.kind === "replica" ? d.replica.endpoint.id : d.kind;
};

describe("chooseReplica", () => {
  it.each([
    { name: "no replicas → unknown model", rs: [], want: "unknown-model" },
    { name: "least outstanding wins", rs: [replica("a", 2), replica("b", 1)], want: "b" },
    {
      name: "waiting requests at the head count like ours",
      rs: [replica("a", 0, { waiting: 3, kvUsage: 0 }), replica("b", 2)],
      want: "b",
    },
    {
      name: "a fuller KV cache weighs a head down",
      rs: [replica("a", 1, { waiting: 0, kvUsage: 0.9 }), replica("b", 1, { waiting: 0, kvUsage: 0.1 })],
      want: "b",
    },
    {
      name: "stale heartbeats are ignored",
      rs: [replica("a", 0, { waiting: 3, kvUsage: 1, atMs: now - 5_000 }), replica("b", 1)],
      want: "a",
    },
    {
      name: "every head full → overloaded",
      rs: [replica("a", 4), replica("b", 0, { waiting: 4, kvUsage: 0 })],
      want: "overloaded",
    },
    { name: "one head with room is used", rs: [replica("a", 4), replica("b", 3)], want: "b" },
  ])("$name", ({ rs, want }) => {
    expect(pick(rs)).toBe(want);
  });

  it("skips heads already tried for this request and reports exhaustion", () => {
    const rs = [replica("a"), replica("b", 1)];
    expect(pick(rs, ["a"])).toBe("b");
    expect(pick(rs, ["a", "b"])).toBe("exhausted");
  });

  it("avoids an ejected head while another is healthy, but uses it as a last resort", () => {
    const a = replica("a");
    a.ejectedUntilMs = now + 1_000;
    expect(pick([a, replica("b", 3)])).toBe("b");
    expect(pick([a])).toBe("a");
  });

  it("sends nothing new to a draining head, and says so when every head drains", () => {
    const a = replica("a");
    a.serving = false;
    expect(pick([a, replica("b", 3)])).toBe("b");
    expect(pick([a])).toBe("draining");
    // A retry after the other head failed finds none left to try.
    expect(pick([a, replica("b")], ["b"])).toBe("exhausted");
  });

  it("spreads ties by the tie-break draw", () => {
    const rs = [replica("a"), replica("b"), replica("c")];
    const draws = [0.9, 0.1, 0.5];
    let i = 0;
    const d = chooseReplica(rs, new Set(), now, policy, () => draws[i++] ?? 1);
    expect(d.kind === "replica" && d.replica.endpoint.id).toBe("b");
  });
});
