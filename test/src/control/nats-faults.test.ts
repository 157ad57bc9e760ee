/**
 * The control plane against a real nats-server with JetStream: outages,
 * catch-up, garbage, lost stages, and drain/shutdown/status request-reply.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  type ControlReply,
  controlReplySchema,
  controlRequestSchema,
  decodeMessage,
  LIFECYCLE_STREAM,
  lifecycleEventSchema,
  subjects,
} from "@strata/core";
import { NATS_METRICS, NatsServerProcess, requestValidated } from "@strata/runtime";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../k8s/poll.js";
import {
  metricValue,
  startReplica,
  startStateKeeper,
  type TestStateKeeper,
  type TestWorker,
} from "./fixtures.js";

let server: NatsServerProcess;
const running: Array<TestWorker | TestStateKeeper> = [];

beforeAll(async () => {
  server = await NatsServerProcess.start();
});

const closeWithinMs = 30_000;
afterEach(async () => {
  // Closing must not hang: a close that outlives closeWithinMs fails the test.
  for (const r of running.splice(0)) {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`close did not finish in ${closeWithinMs} ms`)),
        closeWithinMs,
      );
    });
    try {
      await Promise.race([r.close().catch(() => {}), hung]);
    } finally {
      clearTimeout(timer);
    }
  }
});

afterAll(async () => {
  await server?.stop();
});

function track<T extends TestWorker | TestStateKeeper>(...items: T[]): T[] {
  running.push(...items);
  return items;
}

/** Every lifecycle event of a deployment in the stream, in order, as "stage:kind". */
async function storedEvents(deployment: string): Promise<string[]> {
  const nc = await connect({ servers: server.url });
  try {
    const consumer = await jetstream(nc).consumers.get(LIFECYCLE_STREAM.name, {
      filter_subjects: [subjects.lifecycles(deployment)],
    });
    const out: string[] = [];
    const info = await consumer.info();
    let left = info.num_pending;
    while (left > 0) {
      const batch = await consumer.fetch({ max_messages: left, expires: 2000 });
      for await (const m of batch) {
        const decoded = decodeMessage(lifecycleEventSchema, m.data);
        if (decoded.ok) out.push(`${decoded.value.stage}:${decoded.value.kind}`);
        left--;
      }
    }
    return out;
  } finally {
    await nc.close();
  }
}

describe("control plane over a real nats-server", () => {
  it("reconnects after nats-server is killed and restarted, and loses no lifecycle event", async () => {
    const [keeper] = track(await startStateKeeper(server.url));
    const workers = track(...(await startReplica(server.url, "outage")));
    await pollUntil("replica available", 15_000, async () =>
      Boolean(keeper?.service.state.replica("outage", 0)?.available),
    );

    await server.kill();
    // While the server is down: one stage drains, one fails. Both events wait in the outboxes.
    workers[1]?.control.setState("draining");
    workers[2]?.control.setState("failed", "engine exited (SIGSEGV)");
    expect(workers[1]?.control.outbox.pending).toBeGreaterThan(0);
    expect(workers[2]?.control.outbox.pending).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    const beforeRestart = Date.now();
    await server.start();

    await pollUntil("outboxes empty", 20_000, async () =>
      workers.every((w) => w.control.outbox.pending === 0),
    );
    await pollUntil("state keeper sees the outage's events and fresh heartbeats", 20_000, async () => {
      const stages = keeper?.service.state.replica("outage", 0)?.stages ?? [];
      return (
        stages[1]?.lastEvent === "draining" &&
        stages[2]?.lastEvent === "failed" &&
        stages.every((s) => (s.lastHeartbeatAtMs ?? 0) > beforeRestart && !s.lost)
      );
    });
    expect(keeper?.service.state.replica("outage", 0)?.stages[2]?.reason).toBe("engine exited (SIGSEGV)");
    // Exactly once each: re-sent events were de-duplicated by their Nats-Msg-Id.
    const events = await storedEvents("outage");
    expect(events.sort()).toEqual(
      [
        "0:starting",
        "0:ready",
        "1:starting",
        "1:ready",
        "1:draining",
        "2:starting",
        "2:ready",
        "2:failed",
      ].sort(),
    );
  });

  it("a state keeper that was down catches up from its durable consumer", async () => {
    const durable = "catch-up-test";
    const [first] = track(await startStateKeeper(server.url, durable));
    const workers = track(...(await startReplica(server.url, "catchup", 2)));
    await pollUntil("replica available", 15_000, async () =>
      Boolean(first?.service.state.replica("catchup", 0)?.available),
    );
    await first?.close();

    workers[1]?.control.setState("draining");
    await workers[1]?.control.outbox.flush();

    const [second] = track(await startStateKeeper(server.url, durable));
    await pollUntil("missed event applied", 15_000, async () => {
      const stage = second?.service.state.replica("catchup", 0)?.stages.find((s) => s.stage === 1);
      return stage?.lastEvent === "draining";
    });
    // The durable consumer resumed after what the first state keeper acknowledged.
    const consumed = await metricValue(second?.registry as never, NATS_METRICS.lifecycleEventsConsumed, {
      event: "starting",
    });
    expect(consumed).toBe(0);
  });

  it("rejects garbage, counts it, logs it once, and keeps consuming", async () => {
    const [keeper] = track(await startStateKeeper(server.url));
    const [worker] = track(...(await startReplica(server.url, "garbage", 1)));
    const enc = new TextEncoder();
    const garbage = [
      enc.encode("{not json"),
      enc.encode(JSON.stringify({ v: 1, stage: "zero" })),
      Uint8Array.of(0xff),
    ];
    const nc = keeper?.nc;
    if (!nc || !worker) throw new Error("fixtures did not start");

    for (let i = 0; i < 5; i++) for (const g of garbage) nc.publish("strata.heartbeat.garbage.0.0", g);
    const js = jetstream(nc);
    for (const g of garbage) await js.publish("strata.lifecycle.garbage.0.0", g);
    const badReply = decodeMessage(
      controlReplySchema,
      (
        await nc.request(subjects.control({ deployment: "garbage", replica: 0, stage: 0 }), garbage[0], {
          timeout: 15_000,
        })
      ).data,
    );
    expect(badReply).toMatchObject({ ok: true, value: { ok: false } });

    await pollUntil("invalid messages counted", 10_000, async () => {
      const json = await metricValue(keeper.registry, NATS_METRICS.invalidMessages, {
        kind: "heartbeat",
        reason: "json",
      });
      const schema = await metricValue(keeper.registry, NATS_METRICS.invalidMessages, {
        kind: "heartbeat",
        reason: "schema",
      });
      const events = await metricValue(keeper.registry, NATS_METRICS.invalidMessages, {
        kind: "lifecycle",
      });
      return json === 10 && schema === 5 && events >= 1;
    });
    expect(await metricValue(worker.registry, NATS_METRICS.invalidMessages, { kind: "control" })).toBe(1);
    const warnings = keeper.logger.lines.filter((l) => l.message.startsWith("rejected invalid NATS message"));
    // Once per subject kind and reason, not once per message.
    expect(warnings.filter((w) => w.fields?.subject === "strata.heartbeat.garbage.0.0")).toHaveLength(2);

    // Still consuming both heartbeats and lifecycle events after the garbage.
    worker.control.setState("draining");
    await pollUntil("valid messages after garbage applied", 10_000, async () => {
      const stage = keeper.service.state.replica("garbage", 0)?.stages[0];
      return stage?.lastEvent === "draining" && stage.state === "draining";
    });
  });

  it("marks a stage lost after 3 missed heartbeats and its replica unavailable", async () => {
    const [keeper] = track(await startStateKeeper(server.url));
    const workers = track(...(await startReplica(server.url, "lossy")));
    await pollUntil("replica available", 15_000, async () =>
      Boolean(keeper?.service.state.replica("lossy", 0)?.available),
    );
    // Heartbeats flowing for a few intervals: nothing is lost.
    await new Promise((r) => setTimeout(r, 3500));
    expect(keeper?.service.state.replica("lossy", 0)?.stages.some((s) => s.lost)).toBe(false);

    // Stage 1 dies without a goodbye: its connection closes, its heartbeats stop.
    await workers[1]?.nc.close();
    await pollUntil("stage 1 lost", 10_000, async () => {
      const replica = keeper?.service.state.replica("lossy", 0);
      return replica?.stages[1]?.lost === true && replica.available === false;
    });
    const replica = keeper?.service.state.replica("lossy", 0);
    expect(replica?.stages.filter((s) => s.lost).map((s) => s.stage)).toEqual([1]);
    expect(
      await metricValue(keeper?.registry as never, "strata_controller_stage_transitions_total", {
        transition: "stage-lost",
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it("answers status, drain and shutdown requests", async () => {
    const [keeper] = track(await startStateKeeper(server.url));
    const [head] = track(...(await startReplica(server.url, "drainme", 1)));
    if (!head || !keeper) throw new Error("fixtures did not start");
    head.figures = {
      requestsRunning: 1,
      requestsWaiting: 0,
      promptTokensTotal: 10,
      generatedTokensTotal: 5,
      kvCacheUsage: 0.5,
    };
    const ref = { deployment: "drainme", replica: 0, stage: 0 };
    const ask = (command: "status" | "drain" | "shutdown"): Promise<ControlReply> =>
      requestValidated(
        keeper.nc,
        subjects.control(ref),
        { schema: controlRequestSchema, value: { v: 1, command } },
        controlReplySchema,
        15_000,
      );

    expect(await ask("status")).toMatchObject({ ok: true, status: { state: "ready", requestsRunning: 1 } });
    expect(await ask("drain")).toMatchObject({ ok: true, status: { state: "draining", drained: false } });
    await pollUntil("state keeper sees draining", 10_000, async () => {
      return keeper.service.state.replica("drainme", 0)?.stages[0]?.state === "draining";
    });
    // The in-flight request finishes: the stage is drained, and stays draining (accepts nothing new).
    head.figures = { ...head.figures, requestsRunning: 0 };
    expect(await ask("status")).toMatchObject({ status: { state: "draining", drained: true } });

    expect(await ask("shutdown")).toMatchObject({ ok: true, command: "shutdown" });
    await pollUntil("worker shut down and state keeper saw stopped", 10_000, async () => {
      const stage = keeper.service.state.replica("drainme", 0)?.stages[0];
      return head.shutdownCalls === 1 && stage?.lastEvent === "stopped";
    });
  });
});
