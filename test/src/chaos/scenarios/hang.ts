/**
 * SIGSTOP one stage's engine during load: the stage's process probe and the
 * head's canary fail, the controller recreates the group, and requests resume.
 * Measured: seconds until the group's pods are recreated, seconds until a
 * request through the gateway succeeds again; no request may hang past its
 * timeout.
 */

import { liveScenario, liveSpec, serving } from "../../controller/live-fixture.js";
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

const REQUEST_TIMEOUT_MS = 30_000;
const UP_MS = 240_000;

export const hangScenario: Scenario = {
  name: "sigstop_stage_engine",
  title: "SIGSTOP a stage's engine under load: seconds until the group is recreated and serving",
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const env = await ctx.live();
    const s = await liveScenario(env, "chaos-hang", { racks: ["a", "a"] });
    const gateway = await startGatewayProcess(["--nats-url", env.nats.url]);
    try {
      await s.mds.create("stall", liveSpec(s.pool));
      await s.mds.waitFor("serving", "stall", UP_MS, (m) => serving(m, 1));
      const load = new Load({
        url: gateway.url,
        model: "stall",
        clients: 2,
        maxTokens: 16,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      load.start();
      await until("requests succeeding", 60_000, () => load.count("ok") >= 4);
      const before = ((await s.mds.groups("stall")).get(0) ?? []).map((p) => p.metadata?.uid);
      const worker = s.shadows.find("stall", 0, 1);
      const engine = descendants(worker?.process.pid ?? -1).find((p) => commandName(p) === "ggml-rpc-server");
      if (engine === undefined) throw new Error("no ggml-rpc-server under the stage-1 worker");
      const t0 = Date.now();
      process.kill(engine, "SIGSTOP");
      ctx.log(`stopped ggml-rpc-server ${engine} of stage 1`);
      const recreatedAt = await until("the group recreated", 120_000, async () => {
        const pods = (await s.mds.groups("stall")).get(0) ?? [];
        return pods.length === 2 && pods.every((p) => !before.includes(p.metadata?.uid))
          ? Date.now()
          : undefined;
      });
      const servingAt = await until("a request succeeding through the gateway again", UP_MS, () =>
        load.firstOkAfter(recreatedAt),
      );
      await sleep(2_000);
      await load.stop();
      const events = await s.mds.events("GroupHung");
      const hung = load.count("hung");
      return {
        figures: {
          seconds_to_recreated: seconds(t0, recreatedAt),
          seconds_to_serving: seconds(t0, servingAt),
          requests_ok: load.count("ok"),
          requests_failed: load.count("failed"),
          requests_hung: hung,
        },
        checks: [
          check(
            "no request hangs past its timeout",
            hung === 0,
            `${hung} requests ran past ${REQUEST_TIMEOUT_MS / 1000} s`,
          ),
          check(
            "the controller says the group was hung",
            events.some((e) => /stage \d is hung/.test(e)),
            events[0] ?? "no GroupHung event",
          ),
        ],
        notes: [
          "KWOK pods with real strata worker + llama.cpp processes behind them (shadow workers); requests through `strata gateway --nats-url`",
          `request timeout ${REQUEST_TIMEOUT_MS / 1000} s; failures while the group is down: ${load.failureSample().join("; ") || "none"}`,
        ],
      };
    } finally {
      await gateway.stop();
      await s.stop();
    }
  },
};
