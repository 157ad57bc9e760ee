/**
 * A rolling update under continuous load with 2 replicas: the controller
 * drains each group's head before deleting it, the gateway stops routing to
 * a draining head as soon as its event arrives, and the next group goes only
 * once the replaced one serves again. Measured: failed requests (goal 0).
 */
import { liveScenario, liveSpec, metricSample, serving } from "../../controller/live-fixture.js";
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

const UP_MS = 300_000;

export const rollingUpdateScenario: Scenario = {
  name: "rolling_update",
  title: "Rolling update of 2 replicas under continuous load: failed requests",
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const env = await ctx.live();
    const s = await liveScenario(env, "chaos-roll", { racks: ["a", "a", "b", "b"] });
    const gateway = await startGatewayProcess(["--nats-url", env.nats.url]);
    try {
      await s.mds.create(
        "roll",
        liveSpec(s.pool, {
          replicas: 2,
          rollout: { maxSurge: 0, maxUnavailable: 1, drainTimeoutSeconds: 60 },
        }),
      );
      const first = await s.mds.waitFor("serving", "roll", UP_MS, (m) => serving(m, 2));
      await until(
        "the gateway routing to both heads",
        60_000,
        async () => metricSample(await gateway.metrics(), "strata_gateway_replicas", { model: "roll" }) === 2,
      );
      const load = new Load({
        url: gateway.url,
        model: "roll",
        clients: 3,
        maxTokens: 32,
        timeoutMs: 60_000,
      });
      load.start();
      await until("requests succeeding", 60_000, () => load.count("ok") >= 6);
      const t0 = Date.now();
      await s.mds.patchSpec("roll", { images: { worker: "registry.invalid/strata/shard-worker:2" } });
      const rolled = await s.mds.waitFor(
        "both groups rolled and serving",
        "roll",
        UP_MS,
        (m) =>
          m.status?.revision !== first.status?.revision && m.status?.updatedReplicas === 2 && serving(m, 2),
      );
      const doneAt = Date.now();
      await until(
        "the gateway routing to both new heads",
        60_000,
        async () => metricSample(await gateway.metrics(), "strata_gateway_replicas", { model: "roll" }) === 2,
      );
      await sleep(3_000);
      const records = await load.stop();
      const during = records.filter((r) => r.startMs >= t0 && r.startMs <= doneAt);
      const failed = load.count("failed") + load.count("hung");
      const drains = metricSample(
        (await s.controllers[0]?.metrics()) ?? "",
        "strata_controller_drains_total",
        { result: "drained" },
      );
      return {
        figures: {
          failed_requests: failed,
          requests_during_rollout: during.length,
          requests_total: records.length,
          rollout_seconds: seconds(t0, doneAt),
          groups_drained: drains,
        },
        checks: [
          check(
            "no request failed during the rolling update",
            failed === 0,
            load.failureSample().join("; ") || "0 failed",
          ),
          check(
            "both groups were drained before deletion",
            drains === 2,
            `${drains} drained groups (revision ${rolled.status?.revision})`,
          ),
        ],
        notes: [
          "KWOK pods with real strata worker + llama.cpp processes behind them (shadow workers, not real kubelet pods); `strata gateway --nats-url` discovers heads from heartbeats",
          "load: 3 clients, streamed completions of 32 tokens, one after another",
        ],
      };
    } finally {
      await gateway.stop();
      await s.stop();
    }
  },
};
