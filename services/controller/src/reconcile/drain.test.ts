import type { ControlReply, StageStatus } from "@strata/core";
import { describe, expect, it } from "vitest";
import type { ControlOutcome } from "../nats/controller-nats.js";
import { type DrainClient, type DrainInput, drainStep } from "./drain.js";

const status = (over: Partial<StageStatus>): StageStatus => ({
  deployment: "d",
  replica: 0,
  stage: 0,
  stageCount: 2,
  state: "draining",
  layers: { first: 0, last: 3 },
  requestsRunning: 0,
  requestsWaiting: 0,
  kvCacheUsage: 0,
  tokensPerSecond: 0,
  engineRestarts: 0,
  drained: false,
  startedAtMs: 0,
  ...over,
});
const reply = (s: Partial<StageStatus>): ControlOutcome => ({
  kind: "reply",
  reply: { v: 1, ok: true, command: "status", status: status(s) } satisfies ControlReply,
});

/** A head that answers from a script and records what it was asked. */
function head(answers: { drain?: ControlOutcome; status?: ControlOutcome }) {
  const asked: string[] = [];
  const client: DrainClient = {
    drain: async (_ref, pod) => {
      asked.push(`drain ${pod}`);
      return answers.drain ?? reply({});
    },
    status: async (_ref, pod) => {
      asked.push(`status ${pod}`);
      return answers.status ?? reply({});
    },
  };
  return { client, asked };
}

const input = (over: Partial<DrainInput>): DrainInput => ({
  head: { deployment: "d", replica: 0, stage: 0 },
  headPod: "uid-0",
  observed: true,
  drainingSinceMs: undefined,
  nowMs: 10_000,
  timeoutMs: 120_000,
  ...over,
});

describe("drainStep", () => {
  it("asks the head to drain and waits while requests are in flight", async () => {
    const h = head({ drain: reply({ state: "draining", drained: false, requestsRunning: 2 }) });
    const p = await drainStep(h.client, input({}));
    expect(p).toMatchObject({ kind: "wait", drainingSinceMs: 10_000 });
    expect(h.asked).toEqual(["drain uid-0"]);
  });

  it("deletes once the head says it is drained, keeping when the drain started", async () => {
    const h = head({ status: reply({ state: "draining", drained: true }) });
    const p = await drainStep(h.client, input({ drainingSinceMs: 4_000 }));
    expect(p).toMatchObject({ kind: "delete", result: "drained" });
    expect(h.asked).toEqual(["status uid-0"]);
  });

  it("still waits after asking when the head is busy, with the first ask's time", async () => {
    const h = head({ status: reply({ state: "draining", drained: false }) });
    expect(await drainStep(h.client, input({ drainingSinceMs: 4_000 }))).toMatchObject({
      kind: "wait",
      drainingSinceMs: 4_000,
    });
  });

  it("deletes after the drain timeout without asking again", async () => {
    const h = head({});
    const p = await drainStep(h.client, input({ drainingSinceMs: 0, nowMs: 120_000 }));
    expect(p).toMatchObject({ kind: "delete", result: "timeout", message: "drain timed out after 120 s" });
    expect(h.asked).toEqual([]);
  });

  it("deletes at once when no worker of the group is on NATS, or the timeout is 0", async () => {
    const h = head({});
    expect(await drainStep(h.client, input({ observed: false }))).toMatchObject({ result: "no_worker" });
    expect(await drainStep(h.client, input({ timeoutMs: 0 }))).toMatchObject({ result: "disabled" });
    expect(h.asked).toEqual([]);
  });

  it("deletes when nobody listens on the head's subject any more", async () => {
    const h = head({ status: { kind: "no-responders" } });
    expect(await drainStep(h.client, input({ drainingSinceMs: 9_000 }))).toMatchObject({
      kind: "delete",
      result: "no_worker",
    });
  });

  it("keeps waiting while NATS is unreachable", async () => {
    const h = head({ drain: { kind: "unreachable", error: "not connected to NATS" } });
    const p = await drainStep(h.client, input({}));
    expect(p).toMatchObject({ kind: "wait", message: expect.stringContaining("not connected to NATS") });
  });

  it("asks again when the head is serving again (it restarted since the first ask)", async () => {
    const h = head({
      status: reply({ state: "ready" }),
      drain: reply({ state: "draining", drained: false }),
    });
    expect(await drainStep(h.client, input({ drainingSinceMs: 9_000 }))).toMatchObject({ kind: "wait" });
    expect(h.asked).toEqual(["status uid-0", "drain uid-0"]);
  });
});
