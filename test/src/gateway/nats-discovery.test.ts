import { encodeMessage, type Heartbeat, heartbeatSchema, lifecycleEventSchema, subjects } from "@strata/core";
import { NatsHeartbeatSource, ReplicaTable } from "@strata/gateway";
import {
  connectNats,
  NATS_METRICS,
  type NatsConnection,
  NatsServerProcess,
  silentLogger,
} from "@strata/runtime";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Real nats-server: heartbeats published as workers publish them reach the
// gateway's discovery source, which adds, updates and drops replica heads.
describe("gateway discovery from NATS heartbeats", () => {
  let server: NatsServerProcess;
  let publisher: NatsConnection;
  let subscriber: NatsConnection;

  beforeAll(async () => {
    server = await NatsServerProcess.start();
    publisher = await connectNats({ servers: server.url, name: "test-worker", logger: silentLogger });
    subscriber = await connectNats({ servers: server.url, name: "test-gateway", logger: silentLogger });
  });
  afterAll(async () => {
    await publisher?.close();
    await subscriber?.close();
    await server?.stop();
  });

  const heartbeat = (over: Partial<Heartbeat>): Heartbeat => ({
    v: 1,
    deployment: "llama",
    replica: 0,
    stage: 0,
    stageCount: 3,
    engine: "llamacpp",
    state: "ready",
    layers: { first: 0, last: 3 },
    requestsRunning: 1,
    requestsWaiting: 2,
    kvCacheUsage: 0.25,
    tokensPerSecond: 10,
    engineRestarts: 0,
    endpoint: "http://127.0.0.1:18081",
    intervalMs: 100,
    seq: 1,
    startedAtMs: Date.now(),
    sentAtMs: Date.now(),
    ...over,
  });
  const publish = (hb: Heartbeat) =>
    publisher.publish(
      subjects.heartbeat({ deployment: hb.deployment, replica: hb.replica, stage: hb.stage }),
      encodeMessage(heartbeatSchema, hb),
    );

  it("adds ready heads with their load, ignores other stages, drops draining and silent heads", async () => {
    const table = new ReplicaTable();
    const source = new NatsHeartbeatSource(subscriber, { discover: true, sweepIntervalMs: 50 });
    await source.start(table);
    try {
      publish(heartbeat({}));
      publish(
        heartbeat({ replica: 1, endpoint: "http://127.0.0.1:18082", requestsWaiting: 0, kvCacheUsage: 0.5 }),
      );
      publish(heartbeat({ stage: 1, endpoint: undefined, replica: 2 }));
      publisher.publish(
        subjects.heartbeat({ deployment: "llama", replica: 3, stage: 0 }),
        new TextEncoder().encode("{"),
      );
      await expect
        .poll(() =>
          table
            .forModel("llama")
            .map((r) => r.endpoint.id)
            .sort(),
        )
        .toEqual(["llama/0", "llama/1"]);
      expect(table.get("llama/0")?.endpoint.url).toBe("http://127.0.0.1:18081");
      expect(table.get("llama/0")?.load).toMatchObject({ waiting: 2, kvUsage: 0.25 });
      expect(table.get("llama/1")?.load).toMatchObject({ waiting: 0, kvUsage: 0.5 });
      await expect.poll(() => source.rejected).toBe(1);

      publish(heartbeat({ replica: 1, state: "draining", endpoint: "http://127.0.0.1:18082" }));
      await expect.poll(() => table.get("llama/1")).toBeUndefined();

      // Replica 0 goes silent: gone after LOST_AFTER_INTERVALS × 100 ms.
      await expect.poll(() => table.get("llama/0"), { timeout: 3_000 }).toBeUndefined();
    } finally {
      await source.stop();
    }
  });

  const publishEvent = (replica: number, kind: "draining" | "ready", endpoint?: string) =>
    publisher.publish(
      subjects.lifecycle({ deployment: "llama", replica, stage: 0 }),
      encodeMessage(lifecycleEventSchema, {
        v: 1,
        id: `e-${replica}-${kind}-${Date.now()}`,
        deployment: "llama",
        replica,
        stage: 0,
        kind,
        atMs: Date.now(),
        ...(endpoint ? { endpoint } : {}),
      }),
    );

  it("stops routing to a head the moment its draining event arrives, in both modes", async () => {
    const table = new ReplicaTable();
    table.upsert({ id: "llama/0", model: "llama-3.1-405b", url: "http://10.0.0.1:8080" });
    table.upsert({ id: "llama/1", model: "llama-3.1-405b", url: "http://10.0.0.2:8080" });
    const registry = new Registry();
    const source = new NatsHeartbeatSource(subscriber, { discover: false, registry });
    await source.start(table);
    try {
      // An event from another pod of the same replica name (its URL differs) changes nothing.
      publishEvent(1, "draining", "http://10.0.0.9:8080");
      publishEvent(0, "draining", "http://10.0.0.1:8080");
      await expect.poll(() => table.get("llama/0")?.serving).toBe(false);
      expect(table.get("llama/1")?.serving).toBe(true);
      // Still known (its in-flight requests finish), but gets nothing new.
      expect(table.get("llama/0")?.endpoint.url).toBe("http://10.0.0.1:8080");
      // Serving again once its heartbeats say ready.
      publish(heartbeat({ endpoint: "http://10.0.0.1:8080" }));
      await expect.poll(() => table.get("llama/0")?.serving).toBe(true);

      publisher.publish("strata.lifecycle.llama.0.0", new TextEncoder().encode("not json"));
      await expect
        .poll(async () =>
          (await registry.getSingleMetricAsString(NATS_METRICS.invalidMessages)).includes("} 1"),
        )
        .toBe(true);
    } finally {
      await source.stop();
    }

    const discovered = new ReplicaTable();
    const discovering = new NatsHeartbeatSource(subscriber, { discover: true });
    await discovering.start(discovered);
    try {
      publish(heartbeat({ replica: 4, endpoint: "http://127.0.0.1:18084" }));
      await expect.poll(() => discovered.get("llama/4")).toBeDefined();
      publishEvent(4, "draining", "http://127.0.0.1:18084");
      await expect.poll(() => discovered.get("llama/4")).toBeUndefined();
    } finally {
      await discovering.stop();
    }
  });

  it("in load-only mode updates load but never adds heads", async () => {
    const table = new ReplicaTable();
    table.upsert({ id: "llama/0", model: "llama-3.1-405b", url: "http://10.0.0.1:8080" });
    const source = new NatsHeartbeatSource(subscriber, { discover: false });
    await source.start(table);
    try {
      publish(heartbeat({ requestsWaiting: 7, kvCacheUsage: 0.9 }));
      publish(heartbeat({ replica: 5 }));
      await expect.poll(() => table.get("llama/0")?.load?.waiting).toBe(7);
      expect(table.all().map((r) => r.endpoint.id)).toEqual(["llama/0"]);
      expect(table.get("llama/0")?.endpoint.url).toBe("http://10.0.0.1:8080");
    } finally {
      await source.stop();
    }
  });
});
