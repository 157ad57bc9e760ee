import type { Heartbeat, LifecycleEvent } from "@strata/core";
import { describe, expect, it } from "vitest";
import { ClusterState } from "./cluster-state.js";

function heartbeat(stage: number, overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    v: 1,
    deployment: "tiny",
    replica: 0,
    stage,
    stageCount: 3,
    engine: "llamacpp",
    state: "ready",
    layers: { first: stage * 4, last: stage * 4 + 3 },
    requestsRunning: 0,
    requestsWaiting: 0,
    kvCacheUsage: 0,
    tokensPerSecond: 0,
    engineRestarts: 0,
    intervalMs: 1000,
    seq: 0,
    startedAtMs: 0,
    sentAtMs: 1000,
    ...overrides,
  };
}

function event(stage: number, kind: LifecycleEvent["kind"], atMs: number): LifecycleEvent {
  return { v: 1, id: `${stage}-${kind}-${atMs}`, deployment: "tiny", replica: 0, stage, kind, atMs };
}

describe("ClusterState", () => {
  it("makes a replica available when every stage is ready", () => {
    let now = 0;
    const state = new ClusterState({ now: () => now });
    expect(state.applyHeartbeat(heartbeat(0))).toEqual([]);
    state.applyHeartbeat(heartbeat(1));
    const t = state.applyHeartbeat(heartbeat(2));
    expect(t).toEqual([{ type: "replica-available", deployment: "tiny", replica: 0 }]);
    now = 500;
    expect(state.replica("tiny", 0)?.available).toBe(true);
  });

  it.each([
    // [ms since the last heartbeat, lost?] with a 1 s interval and the 3-interval rule
    [2_999, false],
    [3_000, false],
    [3_001, true],
  ])("after %i ms of silence the stage is lost: %s", (silenceMs, lost) => {
    let now = 0;
    const state = new ClusterState({ now: () => now });
    for (const s of [0, 1, 2]) state.applyHeartbeat(heartbeat(s));
    now = silenceMs;
    state.applyHeartbeat(heartbeat(0, { sentAtMs: 1000 + silenceMs }));
    state.applyHeartbeat(heartbeat(2, { sentAtMs: 1000 + silenceMs }));
    const t = state.sweep();
    const view = state.replica("tiny", 0);
    expect(view?.stages[1]?.lost).toBe(lost);
    expect(view?.available).toBe(!lost);
    if (lost) {
      expect(t).toEqual([
        { type: "stage-lost", ref: { deployment: "tiny", replica: 0, stage: 1 } },
        { type: "replica-unavailable", deployment: "tiny", replica: 0 },
      ]);
    }
  });

  it("recovers a lost stage on its next heartbeat", () => {
    let now = 0;
    const state = new ClusterState({ now: () => now });
    for (const s of [0, 1, 2]) state.applyHeartbeat(heartbeat(s));
    now = 10_000;
    state.applyHeartbeat(heartbeat(0, { sentAtMs: 11_000 }));
    state.applyHeartbeat(heartbeat(2, { sentAtMs: 11_000 }));
    state.sweep();
    const t = state.applyHeartbeat(heartbeat(1, { sentAtMs: 11_000 }));
    expect(t.map((x) => x.type)).toEqual(["stage-recovered", "replica-available"]);
  });

  it("never marks a stopped stage lost", () => {
    let now = 0;
    const state = new ClusterState({ now: () => now });
    state.applyHeartbeat(heartbeat(0));
    state.applyEvent(event(0, "stopped", 2000));
    now = 60_000;
    state.sweep();
    expect(state.replica("tiny", 0)?.stages[0]).toMatchObject({ state: "stopped", lost: false });
  });

  it("ignores an old event replayed after a newer heartbeat", () => {
    const state = new ClusterState({ now: () => 0 });
    state.applyHeartbeat(heartbeat(0, { state: "ready", sentAtMs: 5000 }));
    state.applyEvent(event(0, "starting", 1000));
    expect(state.replica("tiny", 0)?.stages[0]?.state).toBe("ready");
    state.applyEvent(event(0, "draining", 6000));
    expect(state.replica("tiny", 0)?.stages[0]).toMatchObject({ state: "draining", lastEvent: "draining" });
  });
});
