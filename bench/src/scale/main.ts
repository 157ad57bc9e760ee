#!/usr/bin/env node
// Scale benchmark of the ModelDeployment controller on the real control plane with kwok GPU nodes:
//   node bench/dist/scale/main.js [--nodes 1000] [--deployments 100] [--replicas 2] [--stages 2] [--tp 8] [--rounds 1] [--strata-pods-baseline] [--scheduler-qps N] [--controller-cpu-prof DIR] [--apiserver-cpu-prof DIR] [--compare-cli PATH]
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { medianRound } from "./figures.js";
import { runScaleBench } from "./scale.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "1000" },
    deployments: { type: "string", default: "100" },
    replicas: { type: "string", default: "2" },
    stages: { type: "string", default: "2" },
    tp: { type: "string", default: "8" },
    "nodes-per-rack": { type: "string", default: "8" },
    rounds: { type: "string", default: "1" },
    "timeout-seconds": { type: "string", default: "900" },
    "strata-pods-baseline": { type: "boolean", default: false },
    "controller-cpu-prof": { type: "string" },
    "apiserver-cpu-prof": { type: "string" },
    "scheduler-qps": { type: "string" },
    "compare-cli": { type: "string" },
  },
});
const int = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`strata: --${name}: must be a positive integer\n`);
    process.exit(2);
  }
  return n;
};

const compareCli = values["compare-cli"] === undefined ? undefined : resolve(values["compare-cli"]);
if (compareCli !== undefined && !existsSync(compareCli)) {
  process.stderr.write(
    `strata: --compare-cli: no such file: ${compareCli} (another build's cli/bin/strata.js)\n`,
  );
  process.exit(2);
}

const rounds = await runScaleBench({
  nodes: int("nodes"),
  deployments: int("deployments"),
  replicas: int("replicas"),
  stages: int("stages"),
  gpusPerPod: int("tp"),
  nodesPerRack: int("nodes-per-rack"),
  rounds: int("rounds"),
  timeoutMs: int("timeout-seconds") * 1000,
  strataPodsBaseline: values["strata-pods-baseline"],
  ...(values["scheduler-qps"] !== undefined ? { schedulerQps: int("scheduler-qps") } : {}),
  ...(values["controller-cpu-prof"] ? { controllerCpuProfileDir: values["controller-cpu-prof"] } : {}),
  ...(values["apiserver-cpu-prof"] ? { apiserverCpuProfileDir: resolve(values["apiserver-cpu-prof"]) } : {}),
  ...(compareCli ? { compareCli } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
});
const ratio = (r: { allBoundMs: number; baselineBoundMs: number }) => r.allBoundMs / r.baselineBoundMs;
const f = medianRound(rounds, ratio);
const strataRatio = (r: { allBoundMs: number; strataPodsBoundMs?: number }) =>
  r.strataPodsBoundMs === undefined ? "–" : (r.allBoundMs / r.strataPodsBoundMs).toFixed(2);
const other = (r: (typeof rounds)[number]) =>
  r.compared
    ? `${r.compared.allBoundMs} | ${(r.compared.allBoundMs / r.baselineBoundMs).toFixed(2)}`
    : "– | –";
if (rounds.length > 1) {
  process.stdout.write(
    "| round | baseline (ms) | controller's pods directly (ms) | controller (ms) | ratio | ratio to the controller's pods | other build (ms) | its ratio |\n" +
      "| --- | --- | --- | --- | --- | --- | --- | --- |\n",
  );
  rounds.forEach((r, i) => {
    process.stdout.write(
      `| ${i + 1} | ${r.baselineBoundMs} | ${r.strataPodsBoundMs ?? "–"} | ${r.allBoundMs} | ${ratio(r).toFixed(2)} | ${strataRatio(r)} | ${other(r)} |\n`,
    );
  });
  process.stdout.write(`\nThe round with the median ratio, round ${rounds.indexOf(f) + 1}:\n\n`);
}
const rows: Array<[string, string]> = [
  ["fake GPU nodes (8 GPUs each)", String(f.nodes)],
  ["ModelDeployments / groups / pods", `${f.deployments} / ${f.groups} / ${f.pods}`],
  ["baseline: as many plain GPU pods created directly, all bound (ms)", String(f.baselineBoundMs)],
  ...(f.strataPodsBoundMs === undefined
    ? []
    : ([
        ["baseline: the controller's own pods created directly, all bound (ms)", String(f.strataPodsBoundMs)],
        ["ratio controller / the controller's pods created directly", strataRatio(f)],
      ] as Array<[string, string]>)),
  [
    "controller: every ModelDeployment created / every pod created (ms)",
    `${f.deploymentsCreatedMs} / ${f.podsCreatedMs}`,
  ],
  ["controller: every group bound (ms)", String(f.allBoundMs)],
  ["ratio controller / baseline", ratio(f).toFixed(2)],
  ["controller: every deployment Available (ms)", String(f.allAvailableMs)],
  [
    "reconciles (requeued on a status conflict / failed)",
    `${f.reconciles} (${f.conflicts} / ${f.reconcileErrors})`,
  ],
  ["reconcile latency p50 / p99 (ms)", `${f.reconcileP50Ms.toFixed(1)} / ${f.reconcileP99Ms.toFixed(1)}`],
  ["API requests (not list/watch) per reconcile", f.writeRequestsPerReconcile.toFixed(2)],
  ["groups split across racks", String(f.groupsSplitAcrossRacks)],
  ["CPU of `strata controller` until every group was bound (s)", f.cpuUntilBoundS.toFixed(1)],
  ...(f.compared === undefined
    ? []
    : ([
        ["other build: every group bound (ms)", String(f.compared.allBoundMs)],
        [
          "other build: ratio / its controller's CPU until bound (s)",
          `${(f.compared.allBoundMs / f.baselineBoundMs).toFixed(2)} / ${f.compared.cpuUntilBoundS.toFixed(1)}`,
        ],
      ] as Array<[string, string]>)),
];
process.stdout.write("| figure | value |\n| --- | --- |\n");
for (const [k, v] of rows) process.stdout.write(`| ${k} | ${v} |\n`);
process.stdout.write("\n| CPU seconds by process | baseline | controller |\n| --- | --- | --- |\n");
for (const name of Object.keys(f.cpuControllerS)) {
  const b = f.cpuBaselineS[name];
  const c = f.cpuControllerS[name];
  process.stdout.write(`| ${name} | ${b === undefined ? "–" : b.toFixed(1)} | ${c?.toFixed(1)} |\n`);
}
const kinds = [...new Set([...Object.keys(f.requestsBaseline), ...Object.keys(f.requestsController)])];
kinds.sort((a, b) => (f.requestsController[b] ?? 0) - (f.requestsController[a] ?? 0));
process.stdout.write(
  "\n| API server requests (verb resource) | baseline | controller |\n| --- | --- | --- |\n",
);
for (const k of kinds) {
  process.stdout.write(`| ${k} | ${f.requestsBaseline[k] ?? 0} | ${f.requestsController[k] ?? 0} |\n`);
}
