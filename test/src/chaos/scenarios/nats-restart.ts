/**
 * Restart nats-server during load. While it is down a stage's engine is
 * killed, so workers have lifecycle events to report (the stage and the head
 * restart their engines); they wait in the workers' outboxes. Measured:
 * lifecycle events lost (created by the workers but not in the JetStream
 * stream; must be 0) and seconds from the restart until every worker's
 * heartbeats arrive again.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  decodeMessage,
  heartbeatSchema,
  LIFECYCLE_STREAM,
  lifecycleEventSchema,
  subjects,
} from "@strata/core";
import { liveScenario, liveSpec, metricSample, serving } from "../../controller/live-fixture.js";
import { commandName, descendants } from "../../e2e/processes.js";
import { startGatewayProcess } from "../gateway-process.js";
import { Load } from "../load.js";
import {
  type ChaosContext,
  check,
  type Scenario,
  type ScenarioResult,
  seconds,
  sleep,
  until,
} from "../scenario.js";

const OUTAGE_MS = 8_000;
const UP_MS = 240_000;

export const natsRestartScenario: Scenario = {
  name: "nats_restart",
  title: "Restart nats-server under load: lifecycle events lost, seconds until heartbeats resume",
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const env = await ctx.live();
    const s = await liveScenario(env, "chaos-nats", { racks: ["a", "a"] });
    const gateway = await startGatewayProcess(["--nats-url", env.nats.url]);
    try {
      await s.mds.create("bus", liveSpec(s.pool));
      await s.mds.waitFor("serving", "bus", UP_MS, (m) => serving(m, 1));
      const workers = s.shadows.workers().filter((w) => w.deployment === "bus");
      const load = new Load({ url: gateway.url, model: "bus", clients: 2, maxTokens: 16, timeoutMs: 60_000 });
      load.start();
      await until("requests succeeding", 60_000, () => load.count("ok") >= 4);

      await env.nats.kill();
      const downAt = Date.now();
      ctx.log("nats-server killed");
      const stage1 = workers.find((w) => w.stage === 1);
      const engine = descendants(stage1?.process.pid ?? -1).find((p) => commandName(p) === "ggml-rpc-server");
      if (engine !== undefined) process.kill(engine, "SIGKILL");
      await until("events waiting in the outboxes", 30_000, async () => (await pending(workers)) > 0);
      const waiting = await pending(workers);
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));

      await env.nats.start();
      const upAt = Date.now();
      ctx.log("nats-server started again");
      const firstBeat = await firstHeartbeats(
        env.nats.url,
        "bus",
        workers.map((w) => w.uid),
        60_000,
      );
      const resumedAt = Math.max(...firstBeat.values());
      await until("outboxes empty", 60_000, async () => (await pending(workers)) === 0);
      await s.mds.waitFor("serving after the outage", "bus", UP_MS, (m) => serving(m, 1));
      await sleep(2_000);
      await load.stop();

      const created = await publishedTotal(workers);
      const stored = await storedEvents(env.nats.url, "bus", new Set(workers.map((w) => w.uid)));
      const lost = created - stored;
      const recreations = metricSample(
        (await s.controllers[0]?.metrics()) ?? "",
        "strata_controller_group_recreations_total",
      );
      return {
        figures: {
          outage_seconds: seconds(downAt, upAt),
          events_waiting_during_outage: waiting,
          lifecycle_events_lost: lost,
          seconds_until_heartbeats_resume: seconds(upAt, resumedAt),
          groups_recreated: recreations,
          requests_failed: load.count("failed") + load.count("hung"),
        },
        checks: [
          check(
            "no lifecycle event lost",
            lost === 0 && stored > 0,
            `${created} created by the workers, ${stored} in the stream`,
          ),
          check("the outage recreated no group", recreations === 0, `${recreations} groups recreated`),
        ],
        notes: [
          `nats-server SIGKILLed for ${OUTAGE_MS / 1000} s; the stage-1 engine killed during the outage so the workers have events to report`,
          "requests failed: those in flight when the engine died, and while the head reloaded it",
        ],
      };
    } finally {
      await gateway.stop();
      await s.stop();
    }
  },
};

async function workerMetrics(port: number): Promise<string> {
  try {
    return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } catch {
    return "";
  }
}

async function pending(workers: readonly { httpPort: number }[]): Promise<number> {
  let sum = 0;
  for (const w of workers)
    sum += metricSample(await workerMetrics(w.httpPort), "strata_lifecycle_outbox_pending");
  return sum;
}

async function publishedTotal(workers: readonly { httpPort: number }[]): Promise<number> {
  let sum = 0;
  for (const w of workers) {
    const text = await workerMetrics(w.httpPort);
    for (const line of text.split("\n")) {
      if (line.startsWith("strata_lifecycle_events_published_total{")) sum += Number(line.split(" ").at(-1));
    }
    sum += metricSample(text, "strata_lifecycle_outbox_pending");
  }
  return sum;
}

/** When each pod's first heartbeat arrived on a fresh subscription. */
async function firstHeartbeats(
  url: string,
  deployment: string,
  pods: readonly string[],
  timeoutMs: number,
): Promise<Map<string, number>> {
  const nc = await connect({ servers: url });
  const seen = new Map<string, number>();
  try {
    const sub = nc.subscribe(subjects.heartbeats(deployment));
    const deadline = setTimeout(() => sub.unsubscribe(), timeoutMs);
    for await (const m of sub) {
      const hb = decodeMessage(heartbeatSchema, m.data);
      if (hb.ok && hb.value.pod && pods.includes(hb.value.pod) && !seen.has(hb.value.pod)) {
        seen.set(hb.value.pod, Date.now());
        if (seen.size === pods.length) break;
      }
    }
    clearTimeout(deadline);
    if (seen.size < pods.length)
      throw new Error(`heartbeats of ${seen.size} of ${pods.length} workers in ${timeoutMs} ms`);
    return seen;
  } finally {
    await nc.close();
  }
}

/** Lifecycle events of these pods stored in the stream. */
async function storedEvents(url: string, deployment: string, pods: ReadonlySet<string>): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const consumer = await jetstream(nc).consumers.get(LIFECYCLE_STREAM.name, {
      filter_subjects: [subjects.lifecycles(deployment)],
    });
    let left = (await consumer.info()).num_pending;
    let count = 0;
    while (left > 0) {
      const batch = await consumer.fetch({ max_messages: left, expires: 2000 });
      for await (const m of batch) {
        const e = decodeMessage(lifecycleEventSchema, m.data);
        if (e.ok && e.value.pod && pods.has(e.value.pod)) count++;
        left--;
      }
    }
    return count;
  } finally {
    await nc.close();
  }
}
