#!/usr/bin/env node
/**
 * The chaos suite (`npm run chaos`): faults injected into real Strata
 * processes on loopback and on the test cluster (real kube-apiserver,
 * scheduler and controller-manager, KWOK GPU nodes, real nats-server, real
 * `strata controller`, `strata gateway` and `strata up`, real workers with
 * llama.cpp behind the KWOK pods). Each scenario prints its figures; the suite
 * prints one table and ends with one JSON line `{"scenario": {"figure": value}}`.
 * It exits 1 when a scenario's requirement does not hold (or it failed to
 * run), 2 on a bad flag.
 *
 *   node test/dist/chaos/main.js [--only name,name] [--list]
 */
import { parseArgs } from "node:util";
import { type LiveEnv, startLiveEnv } from "../controller/live-fixture.js";
import type { ChaosContext, Scenario, ScenarioResult } from "./scenario.js";
import { apiserverScenario, leaderScenario, nodeNotReadyScenario } from "./scenarios/control-plane.js";
import { hangScenario } from "./scenarios/hang.js";
import { garbageScenario, sigkillUpScenario, startUp } from "./scenarios/loopback.js";
import { natsRestartScenario } from "./scenarios/nats-restart.js";
import { rollingUpdateScenario } from "./scenarios/rolling-update.js";

/**
 * In this order: loopback first (garbage, then SIGKILL of the same `strata up`);
 * the kube-apiserver restart last, as it disturbs the shared cluster.
 */
const SCENARIOS: readonly Scenario[] = [
  garbageScenario,
  sigkillUpScenario,
  hangScenario,
  rollingUpdateScenario,
  natsRestartScenario,
  leaderScenario,
  nodeNotReadyScenario,
  apiserverScenario,
];

/** No scenario may run longer than this; the suite is bounded. */
const SCENARIO_TIMEOUT_MS = 10 * 60_000;

const { values } = parseArgs({
  options: { only: { type: "string" }, list: { type: "boolean" } },
});
if (values.list) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name}\t${s.title}\n`);
  process.exit(0);
}
const wanted = values.only?.split(",").map((n) => n.trim());
const unknown = wanted?.filter((n) => !SCENARIOS.some((s) => s.name === n));
if (unknown && unknown.length > 0) {
  process.stderr.write(`strata chaos: --only: no scenario named ${unknown.join(", ")} (see --list)\n`);
  process.exit(2);
}
const chosen = SCENARIOS.filter((s) => !wanted || wanted.includes(s.name));

const say = (line: string) => process.stderr.write(`chaos: ${line}\n`);
let live: Promise<LiveEnv> | undefined;
let up: ReturnType<typeof startUp> | undefined;
/** Every `strata up` started, stopped (and its leftovers killed) at the end. */
const ups: ReturnType<typeof startUp>[] = [];
const ctx: ChaosContext = {
  live: () => {
    live ??= (async () => {
      say("starting the test cluster (kube-apiserver, scheduler, controller-manager, KWOK, nats-server)");
      return await startLiveEnv();
    })();
    return live;
  },
  up: () => {
    if (!up) {
      say("starting `strata up` (2 stages of a generated 4-layer model)");
      up = startUp();
      ups.push(up);
    }
    return up;
  },
  upGone: () => {
    up = undefined;
  },
  log: (line) => say(`  ${line}`),
};

interface Outcome {
  readonly scenario: Scenario;
  readonly result?: ScenarioResult;
  readonly error?: string;
  readonly seconds: number;
}

const outcomes: Outcome[] = [];
const started = Date.now();
try {
  for (const scenario of chosen) {
    say(`${scenario.name}: ${scenario.title}`);
    const t0 = Date.now();
    try {
      const result = await withTimeout(scenario.run(ctx), SCENARIO_TIMEOUT_MS, scenario.name);
      const seconds = (Date.now() - t0) / 1000;
      outcomes.push({ scenario, result, seconds });
      say(`${scenario.name}: ${formatFigures(result.figures)} (${seconds.toFixed(0)} s)`);
      for (const c of result.checks) say(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    } catch (err: unknown) {
      const seconds = (Date.now() - t0) / 1000;
      const error = err instanceof Error ? err.message : String(err);
      outcomes.push({ scenario, error, seconds });
      say(`${scenario.name}: did not finish: ${error}`);
    }
  }
} finally {
  for (const u of ups) await (await u.catch(() => undefined))?.stop();
  if (live) await (await live.catch(() => undefined))?.stop();
}

const rows = outcomes.map((o) => {
  const passed = o.result?.checks.every((c) => c.ok);
  return `| ${o.scenario.name} | ${o.result ? formatFigures(o.result.figures) : `error: ${o.error}`} | ${passed ? "pass" : "FAIL"} | ${o.seconds.toFixed(0)} |`;
});
process.stdout.write("\n| scenario | figures | requirements | seconds |\n| --- | --- | --- | --- |\n");
process.stdout.write(`${rows.join("\n")}\n\n`);
for (const o of outcomes)
  for (const note of o.result?.notes ?? []) process.stdout.write(`- ${o.scenario.name}: ${note}\n`);
process.stdout.write(
  `\nchaos suite: ${outcomes.length} scenarios in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
);
const json = Object.fromEntries(outcomes.map((o) => [o.scenario.name, o.result?.figures ?? { error: 1 }]));
process.stdout.write(`${JSON.stringify(json)}\n`);
const failed = outcomes.filter((o) => !o.result || o.result.checks.some((c) => !c.ok));
process.exit(failed.length > 0 ? 1 : 0);

function formatFigures(figures: Record<string, number>): string {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
