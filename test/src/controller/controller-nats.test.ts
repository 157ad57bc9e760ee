/**
 * The real `strata controller` process on NATS: its leader consumes the
 * workers' heartbeats and lifecycle events, recreates a group whose stage
 * hangs, drains a group's head before a rollout deletes it, recreates nothing
 * during a NATS outage, moves groups off a node NotReady past its grace
 * period, answers `strata status`, and its /metrics passes promtool. Real
 * workers with llama.cpp run behind the KWOK pods (shadow-workers.ts).
 */
import { spawnSync } from "node:child_process";
import { CoreV1Api } from "@kubernetes/client-node";
import {
  CONDITION_TYPES,
  clusterSnapshotSchema,
  clusterStatusRequestSchema,
  decodeMessage,
  encodeMessage,
  REASONS,
  subjects,
} from "@strata/core";
import { connectNats, silentLogger } from "@strata/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandName, descendants } from "../e2e/processes.js";
import { completeGreedy, streamGreedy } from "../e2e/strata-up.js";
import { pollUntil, setNodeNotReady } from "../k8s/index.js";
import { promtoolBinary } from "../k8s/versions.js";
import {
  type LiveEnv,
  type LiveScenario,
  liveScenario,
  liveSpec,
  metricSample,
  serving,
  startLiveEnv,
} from "./live-fixture.js";

const UP_MS = 180_000;

let env: LiveEnv;
const scenarios: LiveScenario[] = [];

beforeAll(async () => {
  env = await startLiveEnv();
}, 180_000);

afterAll(async () => {
  for (const s of scenarios) await s.stop().catch(() => {});
  await env?.stop();
});

async function scenario(prefix: string, racks: string[], controllerArgs: string[] = [], workers = true) {
  const s = await liveScenario(env, prefix, { racks, controllerArgs, workers });
  scenarios.push(s);
  return s;
}

const uidsOf = async (s: LiveScenario, name: string, replica: number) =>
  ((await s.mds.groups(name)).get(replica) ?? []).map((p) => p.metadata?.uid ?? "").sort();

describe("strata controller on NATS", () => {
  it("recreates a group whose stage engine hangs (SIGSTOP), saying why in status, an Event and a metric", async () => {
    const s = await scenario("nats-hang", ["a", "a"]);
    await s.mds.create("hang", liveSpec(s.pool));
    const up = await s.mds.waitFor("serving", "hang", UP_MS, (m) => serving(m, 1));
    // Stage states and the newest lifecycle event reach the status.
    expect(up.status?.groups?.[0]?.stages).toEqual([
      { stage: 0, state: "ready" },
      { stage: 1, state: "ready" },
    ]);
    expect(up.status?.groups?.[0]?.lastTransition?.kind).toBe("ready");
    const before = await uidsOf(s, "hang", 0);
    const statuses = await s.mds.watchStatuses("hang");

    const stage1 = s.shadows.find("hang", 0, 1);
    const engine = descendants(stage1?.process.pid ?? -1).find((p) => commandName(p) === "ggml-rpc-server");
    expect(engine).toBeDefined();
    process.kill(engine as number, "SIGSTOP");

    await pollUntil("the group recreated with new pods", 60_000, async () => {
      const now = await uidsOf(s, "hang", 0);
      return now.length === 2 && now.every((u) => !before.includes(u));
    });
    const events = await s.mds.events(REASONS.groupHung);
    expect(events.join("\n")).toMatch(
      /group 0: stage 1 is hung: its engine failed \d+ process probes in a row/,
    );
    expect(
      metricSample((await s.controllers[0]?.metrics()) ?? "", "strata_controller_group_recreations_total", {
        reason: "hung",
      }),
    ).toBeGreaterThanOrEqual(1);
    await s.mds.waitFor("serving again", "hang", UP_MS, (m) => serving(m, 1));
    statuses.stop();
    const degraded = statuses.seen
      .map((m) => s.mds.condition(m, CONDITION_TYPES.degraded))
      .find((c) => c?.status === "True");
    expect(degraded).toMatchObject({ reason: REASONS.groupHung });
    expect(degraded?.message).toMatch(/stage 1 is hung/);
    // The new head answers.
    const head = s.shadows.find("hang", 0, 0);
    const answer = await completeGreedy(`http://127.0.0.1:${head?.httpPort}`, "hello", 4);
    expect(answer.tokens.length).toBeGreaterThan(0);
  }, 400_000);

  it("drains the head before a rollout deletes its group: the in-flight request completes, new ones get 503", async () => {
    const s = await scenario("nats-drain", ["a", "a"]);
    await s.mds.create("drain", liveSpec(s.pool));
    await s.mds.waitFor("serving", "drain", UP_MS, (m) => serving(m, 1));
    const head = s.shadows.find("drain", 0, 0);
    const url = `http://127.0.0.1:${head?.httpPort}`;
    const statuses = await s.mds.watchStatuses("drain");

    const inFlight = streamGreedy(url, "a long answer", 400);
    await inFlight.firstToken;
    await s.mds.patchSpec("drain", { images: { worker: "registry.invalid/strata/shard-worker:2" } });
    await s.mds.waitFor("draining", "drain", 30_000, (m) => m.status?.groups?.[0]?.phase === "Draining");
    const refused = await fetch(`${url}/completion`, {
      method: "POST",
      body: JSON.stringify({ prompt: "new", n_predict: 1 }),
    });
    expect(refused.status).toBe(503);
    expect(await inFlight.outcome).toBe("completed");

    await s.mds.waitFor(
      "rolled and serving",
      "drain",
      UP_MS,
      (m) => serving(m, 1) && m.status?.updatedReplicas === 1,
    );
    statuses.stop();
    const draining = statuses.seen.find((m) => m.status?.groups?.[0]?.phase === "Draining");
    expect(draining?.status?.groups?.[0]?.drainingSince).toBeDefined();
    const metrics = (await s.controllers[0]?.metrics()) ?? "";
    expect(metricSample(metrics, "strata_controller_drains_total", { result: "drained" })).toBe(1);
    expect(metricSample(metrics, "strata_controller_drain_duration_seconds_count")).toBe(1);
  }, 400_000);

  it("recreates nothing while nats-server is down, answers `strata status` as the controller, and its /metrics pass promtool", async () => {
    const s = await scenario("nats-outage", ["a", "a"]);
    await s.mds.create("outage", liveSpec(s.pool));
    await s.mds.waitFor("serving", "outage", UP_MS, (m) => serving(m, 1));
    const before = await uidsOf(s, "outage", 0);
    await env.nats.kill();
    // Longer than the 3 heartbeat intervals that would make a stage silent.
    await new Promise((r) => setTimeout(r, 8_000));
    await env.nats.start();
    await s.mds.waitFor("serving after the outage", "outage", UP_MS, (m) => serving(m, 1));
    // A few sweeps after the reconnect, still nothing recreated.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await uidsOf(s, "outage", 0)).toEqual(before);
    const metrics = (await s.controllers[0]?.metrics()) ?? "";
    expect(metricSample(metrics, "strata_controller_group_recreations_total")).toBe(0);
    expect(metricSample(metrics, "strata_controller_nats_connected")).toBe(1);

    const nc = await connectNats({ servers: env.nats.url, name: "status-test", logger: silentLogger });
    try {
      const reply = await nc.request(
        subjects.clusterStatus(),
        encodeMessage(clusterStatusRequestSchema, { v: 1, deployment: "outage" }),
        { timeout: 10_000 },
      );
      const snapshot = decodeMessage(clusterSnapshotSchema, reply.data);
      expect(snapshot).toMatchObject({ ok: true, value: { source: "controller" } });
      if (snapshot.ok) expect(snapshot.value.deployments[0]?.replicas[0]?.available).toBe(true);
    } finally {
      await nc.close();
    }

    const text = (await s.controllers[0]?.metrics()) ?? "";
    expect(text).toContain('strata_controller_replicas_available{deployment="outage"} 1');
    expect(text).toContain("strata_lifecycle_events_consumed_total");
    expect(text).toContain("strata_controller_heartbeats_received_total");
    const result = spawnSync(promtoolBinary(), ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(result.error).toBeUndefined();
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({
      status: 0,
      output: "",
    });
  }, 400_000);

  it("moves a group off a node NotReady past the grace period and leaves the other group alone", async () => {
    // Placement only: pods on KWOK nodes without workers behind them; one group per rack.
    const s = await scenario("nats-node", ["a", "b", "c"], ["--node-not-ready-grace-seconds=5"], false);
    await s.mds.create(
      "node",
      liveSpec(s.pool, { replicas: 2, parallelism: { mode: "explicit", tp: 4, pp: 2 } }),
    );
    await s.mds.waitFor("two groups", "node", UP_MS, (m) => m.status?.readyReplicas === 2);
    const groups = await s.mds.groups("node");
    const victim = groups.get(0)?.[0]?.spec?.nodeName ?? "";
    const other = await uidsOf(s, "node", 1);
    const before = await uidsOf(s, "node", 0);
    const t0 = Date.now();
    await setNodeNotReady(env.admin, victim);
    await pollUntil("group 0 recreated off the node", 60_000, async () => {
      const pods = (await s.mds.groups("node")).get(0) ?? [];
      return (
        pods.length === 2 &&
        pods.every(
          (p) => !before.includes(p.metadata?.uid ?? "") && p.spec?.nodeName && p.spec.nodeName !== victim,
        )
      );
    });
    // The grace counts from the Ready condition's lastTransitionTime, which
    // the API server keeps in whole seconds: up to 1 s before the change.
    const seconds = (Date.now() - t0) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(4);
    expect(await uidsOf(s, "node", 1)).toEqual(other);
    expect((await s.mds.events(REASONS.nodeNotReady)).join("\n")).toMatch(
      new RegExp(`group 0: node ${victim} not Ready for more than 5 s`),
    );
    const core = env.admin.makeApiClient(CoreV1Api);
    const left = await core.listNamespacedPod({ namespace: s.ns, fieldSelector: `spec.nodeName=${victim}` });
    expect(left.items).toEqual([]);
  }, 300_000);
});
