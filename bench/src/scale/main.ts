#!/usr/bin/env node
// Scale benchmark of the ModelDeployment controller on the real control plane with kwok GPU nodes:
//   node bench/dist/scale/main.js [--nodes 1000] [--deployments 100] [--replicas 2] [--stages 2] [--tp 8]
import { parseArgs } from "node:util";
import { runScaleBench } from "./scale.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "1000" },
    deployments: { type: "string", default: "100" },
    replicas: { type: "string", default: "2" },
    stages: { type: "string", default: "2" },
    tp: { type: "string", default: "8" },
    "nodes-per-rack": { type: "string", default: "8" },
    "timeout-seconds": { type: "string", default: "900" },
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

const f = await runScaleBench({
  nodes: int("nodes"),
  deployments: int("deployments"),
  replicas: int("replicas"),
  stages: int("stages"),
  gpusPerPod: int("tp"),
  nodesPerRack: int("nodes-per-rack"),
  timeoutMs: int("timeout-seconds") * 1000,
  log: (line) => process.stderr.write(`${line}\n`),
});
const rows: Array<[string, string]> = [
  ["fake GPU nodes (8 GPUs each)", String(f.nodes)],
  ["ModelDeployments / groups / pods", `${f.deployments} / ${f.groups} / ${f.pods}`],
  ["baseline: same pods created directly, all bound (ms)", String(f.baselineBoundMs)],
  ["controller: every group bound (ms)", String(f.allBoundMs)],
  ["ratio controller / baseline", (f.allBoundMs / f.baselineBoundMs).toFixed(2)],
  ["controller: every deployment Available (ms)", String(f.allAvailableMs)],
  ["reconciles (of which requeued on a status conflict)", `${f.reconciles} (${f.conflicts})`],
  ["reconcile latency p50 / p99 (ms)", `${f.reconcileP50Ms.toFixed(1)} / ${f.reconcileP99Ms.toFixed(1)}`],
  ["API requests (not list/watch) per reconcile", f.writeRequestsPerReconcile.toFixed(2)],
  ["groups split across racks", String(f.groupsSplitAcrossRacks)],
  ["CPU of the controller's process until every group was bound (s)", f.cpuUntilBoundS.toFixed(1)],
];
process.stdout.write("| figure | value |\n| --- | --- |\n");
for (const [k, v] of rows) process.stdout.write(`| ${k} | ${v} |\n`);
