import type { V1Pod } from "@kubernetes/client-node";
import { LABELS } from "@strata/core";
import { describe, expect, it } from "vitest";
import { decideGroup, endedDetail, gangBackoffMs, viewGroup } from "./observe.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

function pod(
  stage: number,
  opts: { bound?: boolean; phase?: string; ready?: boolean; terminating?: boolean; revision?: string } = {},
): V1Pod {
  return {
    metadata: {
      name: `md-0-${stage}`,
      creationTimestamp: new Date(T0),
      labels: {
        [LABELS.replica]: "0",
        [LABELS.stage]: String(stage),
        [LABELS.revision]: opts.revision ?? "r1",
      },
      ...(opts.terminating ? { deletionTimestamp: new Date(T0 + 1000) } : {}),
    },
    spec: { containers: [], ...(opts.bound ? { nodeName: `node-${stage}` } : {}) },
    status: {
      phase: opts.phase ?? "Pending",
      conditions: opts.ready ? [{ type: "Ready", status: "True" }] : [],
    },
  };
}

const running = (stage: number) => pod(stage, { bound: true, phase: "Running", ready: true });
const settings = (over: Partial<Parameters<typeof decideGroup>[1]> = {}) => ({
  stages: 2,
  nowMs: T0 + 5_000,
  gangTimeoutMs: 60_000,
  retryAfterMs: undefined,
  ...over,
});

describe("decideGroup", () => {
  it.each([
    ["no pods: create", [], settings(), { kind: "create" }],
    [
      "no pods, backing off: wait",
      [],
      settings({ retryAfterMs: T0 + 10_000 }),
      { kind: "wait", reason: "backoff" },
    ],
    ["no pods, backoff over: create", [], settings({ retryAfterMs: T0 }), { kind: "create" }],
    [
      "all terminating: wait",
      [pod(0, { terminating: true }), pod(1, { terminating: true })],
      settings(),
      { kind: "wait", reason: "terminating" },
    ],
    [
      "one terminating: recreate all",
      [running(0), pod(1, { terminating: true, bound: true })],
      settings(),
      { kind: "recreate", why: "1 of 2 pods are terminating" },
    ],
    [
      "a pod failed: recreate all",
      [running(0), pod(1, { bound: true, phase: "Failed" })],
      settings(),
      { kind: "recreate", why: "1 of 2 pods failed or exited" },
    ],
    [
      "a started group lost a pod: recreate all",
      [running(0)],
      settings(),
      { kind: "recreate", why: "1 of 2 pods disappeared" },
    ],
    [
      "a never-started group lacks a pod: create the missing one",
      [pod(0)],
      settings(),
      { kind: "createMissing" },
    ],
    [
      "unbound within the timeout: wait",
      [pod(0, { bound: true }), pod(1)],
      settings(),
      { kind: "wait", reason: "binding" },
    ],
    [
      "running and ready: available",
      [running(0), running(1)],
      settings(),
      { kind: "running", available: true },
    ],
    [
      "bound but not ready: running",
      [running(0), pod(1, { bound: true, phase: "Running" })],
      settings(),
      { kind: "running", available: false },
    ],
  ])("%s", (_name, pods, s, want) => {
    expect(decideGroup(viewGroup(0, pods as V1Pod[]), s)).toEqual(want);
  });

  it("gives GPUs back when a group is still partly unbound after the gang timeout", () => {
    const action = decideGroup(
      viewGroup(0, [pod(0, { bound: true }), pod(1)]),
      settings({ nowMs: T0 + 61_000 }),
    );
    expect(action.kind).toBe("gangTimeout");
    expect(action.kind === "gangTimeout" && action.why).toMatch(/^1 of 2 pods bound after 61s/);
  });

  it("reports mixed revisions as no single revision", () => {
    expect(viewGroup(0, [pod(0, { revision: "a" }), pod(1, { revision: "b" })]).revision).toBeUndefined();
  });
});

describe("gangBackoffMs", () => {
  it("doubles per attempt up to the cap", () => {
    expect([1, 2, 3, 4, 10].map((n) => gangBackoffMs(n, 1000, 5000))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
});

describe("endedDetail", () => {
  it("names the stage, its node, the exit code and the worker's last line", () => {
    const failed = pod(1, { bound: true, phase: "Failed" });
    (failed.status ?? {}).containerStatuses = [
      {
        name: "worker",
        image: "strata",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: 2,
            message: "starting\nSTRATA_MODEL_PATH: /models/x.gguf does not exist on this node\n",
          },
        },
      },
    ];
    expect(endedDetail([running(0), failed])).toBe(
      "stage 1 on node node-1 exited with code 2: STRATA_MODEL_PATH: /models/x.gguf does not exist on this node",
    );
    expect(decideGroup(viewGroup(0, [running(0), failed]), settings())).toEqual({
      kind: "recreate",
      why: "1 of 2 pods failed or exited (stage 1 on node node-1 exited with code 2: STRATA_MODEL_PATH: /models/x.gguf does not exist on this node)",
    });
  });

  it("says nothing when no ended pod has a terminated container", () => {
    expect(endedDetail([running(0), pod(1, { bound: true, phase: "Failed" })])).toBeUndefined();
  });
});
