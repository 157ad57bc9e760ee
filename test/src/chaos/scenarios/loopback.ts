/**
 * Scenarios on one machine, with `strata up` as a user runs it: a supervisor
 * killed with SIGKILL must leave no process behind, and garbage on every
 * NATS subject, at the gateway and at a tunnel port must crash nothing and be
 * rejected and counted.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { decodeMessage, heartbeatSchema, subjects, WORKER_ENV } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import { writeTinyLlamaGguf } from "@strata/shard-worker";
import { metricSample } from "../../controller/live-fixture.js";
import { commandName, isAlive } from "../../e2e/processes.js";
import { completeGreedy, StrataRun } from "../../e2e/strata-up.js";
import {
  type ChaosContext,
  check,
  type LocalUp,
  type Scenario,
  type ScenarioResult,
  seconds,
  until,
} from "../scenario.js";

const GARBAGE_PER_TARGET = 100;

/** Starts `strata up` with 2 stages of a generated 4-layer model; the caller stops it. */
export async function startUp(): Promise<LocalUp & { stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "strata-chaos-up-"));
  const model = join(dir, "tiny.gguf");
  await writeTinyLlamaGguf(model, { layers: 4 });
  const run = new StrataRun([
    "up",
    "--model",
    model,
    "--stages",
    "2",
    "--port",
    String(await freeLoopbackPort()),
  ]);
  const stop = async () => {
    run.forceCleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    return { run, url: await run.endpoint(), stop };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

export const sigkillUpScenario: Scenario = {
  name: "sigkill_strata_up",
  title: "SIGKILL `strata up`: processes left behind",
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const { run } = await ctx.up();
    ctx.upGone();
    {
      const tree = run.recordProcesses();
      const names = tree.map((p) => commandName(p));
      ctx.log(`strata up ${run.pid} runs ${names.join(", ")}`);
      const t0 = Date.now();
      process.kill(run.pid, "SIGKILL");
      let left: number[] = [];
      const goneAt = await until(
        "every process of the run to end",
        30_000,
        () => {
          left = [...run.seenPids].filter(isAlive);
          return left.length === 0 ? Date.now() : undefined;
        },
        100,
      ).catch(() => undefined);
      const survivors = left.map((p) => `${p} ${commandName(p)}`);
      return {
        figures: {
          processes_before: tree.length,
          processes_left: left.length,
          seconds_until_all_gone: goneAt === undefined ? -1 : seconds(t0, goneAt),
        },
        checks: [
          check("no process outlives strata up", left.length === 0, survivors.join(", ") || "none left"),
        ],
        notes: [
          `the run's processes: ${[...new Set(names)].join(", ")} (nats-server under a lifeline, workers on IPC lifelines)`,
        ],
      };
    }
  },
};

export const garbageScenario: Scenario = {
  name: "garbage",
  title: `Garbage: ${GARBAGE_PER_TARGET} malformed messages on each NATS subject, at the gateway, random bytes at a tunnel port`,
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const { run, url } = await ctx.up();
    {
      const natsUrl = /nats-server \(JetStream\) on (nats:\/\/\S+)/.exec(run.stderr)?.[1];
      const supervisorMetrics = /supervisor metrics at (http:\/\/\S+?);/.exec(run.stderr)?.[1];
      if (!natsUrl || !supervisorMetrics)
        throw new Error(`strata up did not print its NATS and metrics URLs: ${run.stderr}`);
      const workers = run.recordProcesses().filter((p) => workerEnv(p)[WORKER_ENV.stage] !== undefined);
      const head = workers.find((p) => workerEnv(p)[WORKER_ENV.stage] === "0");
      const stage = workers.find((p) => workerEnv(p)[WORKER_ENV.stage] === "1");
      if (head === undefined || stage === undefined)
        throw new Error("no head and stage worker under strata up");
      const headMetrics = `http://127.0.0.1:${workerEnv(head)[WORKER_ENV.httpPort]}/metrics`;
      const stageMetrics = `http://127.0.0.1:${workerEnv(stage)[WORKER_ENV.httpPort]}/metrics`;
      const tunnelPort = Number(workerEnv(stage)[WORKER_ENV.tunnelPort]);
      const pidsBefore = run.recordProcesses();

      const text = async (u: string) => await (await fetch(u)).text();
      const counts = async () => {
        const sup = await text(supervisorMetrics);
        return {
          heartbeat: sum(sup, "strata_nats_invalid_messages_total", { kind: "heartbeat" }),
          lifecycle: sum(sup, "strata_nats_invalid_messages_total", { kind: "lifecycle" }),
          status: sum(sup, "strata_nats_invalid_messages_total", { kind: "cluster" }),
          control: sum(await text(headMetrics), "strata_nats_invalid_messages_total", { kind: "control" }),
          gateway400: metricSample(await text(`${url}/metrics`), "strata_gateway_requests_total", {
            code: "400",
          }),
          tunnel: metricSample(await text(stageMetrics), "strata_tunnel_rejected_streams_total", {
            stage: "1",
          }),
        };
      };
      const before = await counts();

      const nc = await connect({ servers: natsUrl });
      try {
        const js = jetstream(nc);
        const ref = { deployment: "local", replica: 0, stage: 0 };
        for (let i = 0; i < GARBAGE_PER_TARGET; i++) {
          nc.publish(subjects.heartbeat(ref), garbage(i));
          nc.publish(subjects.control(ref), garbage(i));
          nc.publish(subjects.clusterStatus(), garbage(i));
          await js.publish(subjects.lifecycle(ref), garbage(i));
        }
        await nc.flush();
      } finally {
        await nc.close();
      }
      const bodies = await Promise.all(
        Array.from({ length: GARBAGE_PER_TARGET }, async (_, i) => {
          const res = await fetch(`${url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: garbage(i),
          });
          await res.text();
          return res.status;
        }),
      );
      await Promise.all(Array.from({ length: GARBAGE_PER_TARGET }, () => randomBytesAt(tunnelPort)));

      const want = GARBAGE_PER_TARGET;
      let after = before;
      await until(
        "every piece of garbage counted",
        30_000,
        async () => {
          after = await counts();
          return (Object.keys(after) as (keyof typeof after)[]).every((k) => after[k] - before[k] >= want);
        },
        500,
      ).catch(() => undefined);
      const counted = Object.fromEntries(
        (Object.keys(after) as (keyof typeof after)[]).map((k) => [k, after[k] - before[k]]),
      ) as Record<keyof typeof after, number>;
      const crashed = pidsBefore.filter((p) => !isAlive(p)).map((p) => `${p} ${commandName(p)}`);
      // Still serving: a completion through the gateway, and heartbeats on NATS.
      const served = await completeGreedy(url, "still alive", 4).then(
        () => true,
        () => false,
      );
      const beating = await heartbeatArrives(natsUrl);
      ctx.log(`garbage counted: ${JSON.stringify(counted)}`);
      return {
        figures: {
          crashes: crashed.length,
          rejected_heartbeat: counted.heartbeat,
          rejected_lifecycle: counted.lifecycle,
          rejected_cluster_status: counted.status,
          rejected_control: counted.control,
          rejected_gateway_bodies: counted.gateway400,
          rejected_tunnel_connections: counted.tunnel,
          gateway_answers_not_400: bodies.filter((b) => b !== 400).length,
        },
        checks: [
          check("no process crashed", crashed.length === 0, crashed.join(", ") || "all alive"),
          check(
            "every piece of garbage rejected and counted",
            Object.values(counted).every((n) => n >= want) && bodies.every((b) => b === 400),
            JSON.stringify(counted),
          ),
          check("still serving afterwards", served && beating, `completion ${served}, heartbeats ${beating}`),
        ],
        notes: [
          "NATS: heartbeat, lifecycle (JetStream), control and cluster.status subjects of a `strata up` (supervisor and workers count them); gateway: malformed chat bodies (400); tunnel: connections of random bytes to a stage's gRPC port",
        ],
      };
    }
  },
};

/** Malformed in turn: not JSON, JSON of the wrong shape, invalid UTF-8, random bytes. */
function garbage(i: number): Uint8Array {
  switch (i % 4) {
    case 0:
      return new TextEncoder().encode(`{"v":1,"stage":"${i}`);
    case 1:
      return new TextEncoder().encode(JSON.stringify({ v: 1, deployment: 42, replica: -i, messages: "x" }));
    case 2:
      return Uint8Array.of(0xff, 0xfe, 0xfd, i & 0xff);
    default:
      return new Uint8Array(randomBytes(64));
  }
}

function workerEnv(pid: number): Record<string, string> {
  try {
    const env: Record<string, string> = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0 && entry.startsWith("STRATA_")) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return {};
  }
}

function sum(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.split(" ").at(-1));
  }
  return total;
}

/** One connection that writes random bytes, then gives the server a second to reject them. */
function randomBytesAt(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port }, () => socket.write(randomBytes(256)));
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.on("error", done);
    socket.on("close", done);
    setTimeout(done, 1_000).unref();
  });
}

async function heartbeatArrives(url: string): Promise<boolean> {
  const nc = await connect({ servers: url });
  try {
    const sub = nc.subscribe(subjects.heartbeats(), { max: 1 });
    const timer = setTimeout(() => sub.unsubscribe(), 10_000);
    for await (const m of sub) {
      clearTimeout(timer);
      return decodeMessage(heartbeatSchema, m.data).ok;
    }
    return false;
  } finally {
    await nc.close();
  }
}
