import type { V1Pod } from "@kubernetes/client-node";
import { LABELS } from "@strata/core";
import { describe, expect, it } from "vitest";
import type { PodStage } from "../cluster-state/cluster-state.js";
import { groupSignals } from "./group-signals.js";

const pod = (stage: number, uid: string, phase = "Running"): V1Pod => ({
  metadata: { name: `d-0-${stage}`, uid, labels: { [LABELS.stage]: String(stage) } },
  status: { phase },
});

const seen = (stage: number, over: Partial<PodStage> = {}): PodStage => ({
  deployment: "d",
  replica: 0,
  stage,
  state: "ready",
  lost: false,
  lastHeartbeatAtMs: 1,
  intervalMs: 1000,
  probe: { kind: stage === 0 ? "canary" : "process", ok: true, failures: 0, intervalMs: 1000 },
  lastEvent: "ready",
  lastEventAtMs: 1000 + stage,
  reason: undefined,
  ...over,
});

const run = (pods: V1Pod[], byUid: Record<string, PodStage>, trustsSilence = true) =>
  groupSignals(pods, { pod: (uid) => byUid[uid], trustsSilence });

describe("groupSignals", () => {
  it("is not observed while no pod of the group has spoken (another pod of the same name did)", () => {
    const s = run([pod(0, "new-0"), pod(1, "new-1")], { "old-0": seen(0) });
    expect(s).toMatchObject({ observed: false, serving: false, hung: undefined, headPod: "new-0" });
  });

  it("reports stage states, the head serving, and the newest lifecycle event", () => {
    const s = run([pod(1, "u1"), pod(0, "u0")], {
      u0: seen(0),
      u1: seen(1, { lastEvent: "starting", lastEventAtMs: 5000, reason: "engine restarting" }),
    });
    expect(s).toMatchObject({ observed: true, serving: true, headState: "ready", hung: undefined });
    expect(s.stages).toEqual([
      { stage: 0, state: "ready" },
      { stage: 1, state: "ready" },
    ]);
    expect(s.lastTransition).toEqual({
      stage: 1,
      kind: "starting",
      at: new Date(5000).toISOString(),
      reason: "engine restarting",
    });
  });

  it.each([
    [2, false],
    [3, true],
  ])("a stage whose engine failed %i probes in a row is hung: %s", (failures, hung) => {
    const s = run([pod(0, "u0"), pod(1, "u1")], {
      u0: seen(0),
      u1: seen(1, { probe: { kind: "process", ok: false, failures, intervalMs: 1000, detail: "stopped" } }),
    });
    expect(s.hung !== undefined).toBe(hung);
    if (hung) {
      expect(s.hung).toMatchObject({ stage: 1, kind: "probe" });
      expect(s.stages[1]).toEqual({ stage: 1, state: "hung" });
    }
  });

  it("calls a silent stage hung only when silence is trusted and its pod is Running", () => {
    const pods = [pod(0, "u0"), pod(1, "u1")];
    const lost = { u0: seen(0), u1: seen(1, { lost: true }) };
    expect(run(pods, lost, true).hung).toMatchObject({ stage: 1, kind: "silence" });
    // A NATS outage: nobody is hung.
    expect(run(pods, lost, false).hung).toBeUndefined();
    // Its pod is not Running (e.g. Pending on a new node): not this rule's business.
    expect(run([pod(0, "u0"), pod(1, "u1", "Pending")], lost, true).hung).toBeUndefined();
    // A stopped stage is expected to be silent.
    expect(run(pods, { u0: seen(0), u1: seen(1, { lost: true, state: "stopped" }) }).hung).toBeUndefined();
  });

  it("ignores terminating pods", () => {
    const terminating = {
      ...pod(0, "u0"),
      metadata: { ...pod(0, "u0").metadata, deletionTimestamp: new Date() },
    };
    expect(run([terminating], { u0: seen(0) }).observed).toBe(false);
  });
});
