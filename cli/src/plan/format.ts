import { formatLayerRange, type MemoryPerGpu, type Plan } from "@strata/core";

/** A plan as a readable table for a terminal. */
export function formatPlan(plan: Plan, clusterLabel: string): string {
  const lines: string[] = [];
  lines.push(`model    ${plan.model} (${plan.dtype}, ${gb(plan.weightsBytes)} of weights)`);
  lines.push(`cluster  ${clusterLabel}`);
  lines.push(
    `plan     ${plan.fits ? "fits" : "DOES NOT FIT"}: tp=${plan.tp} pp=${plan.pp} dp=${plan.dp}, ${plan.gpusUsed} GPUs, objective ${plan.objective}`,
  );
  lines.push(`why      ${plan.why}`);
  lines.push("");
  lines.push("memory per GPU, by pipeline stage:");
  const header = [
    "stage",
    "layers",
    "nodes",
    "gpus",
    "gpu",
    "weights",
    "kv cache",
    "activations",
    "overhead",
    "budget",
    "kv tokens",
  ];
  const rows = plan.stages.map((s) => [
    String(s.index),
    formatLayerRange(s.layers),
    nodeList(s.nodes),
    String(s.gpus),
    s.gpu,
    ...memoryCells(s.memoryPerGpu),
    count(s.kvCacheTokens),
  ]);
  lines.push(...table(header, rows, new Set([3, 5, 6, 7, 8, 9, 10])));
  lines.push("");
  lines.push(
    `kv cache ${count(plan.kvCacheTokens)} tokens (${count(plan.kvCacheTokensPerReplica)} per replica): ` +
      `${count(plan.maxConcurrentSequences)} concurrent sequences of ${count(plan.maxModelLen)} tokens`,
  );
  if (plan.candidates.length > 0) {
    lines.push(
      "next     " +
        plan.candidates
          .map(
            (c) =>
              `tp=${c.tp} pp=${c.pp} dp=${c.dp} (${count(c.kvCacheTokens)} kv tokens, ${count(c.maxConcurrentSequences)} sequences)`,
          )
          .join("; "),
    );
  }
  for (const note of plan.notes) lines.push(`note     ${note}`);
  return `${lines.join("\n")}\n`;
}

function memoryCells(m: MemoryPerGpu): string[] {
  return [
    gb(m.weightsBytes),
    gb(m.kvCacheBytes),
    gb(m.activationBytes),
    gb(m.overheadBytes),
    gb(m.budgetBytes),
  ];
}

function nodeList(nodes: readonly string[]): string {
  if (nodes.length <= 3) return nodes.join(",");
  return `${nodes.slice(0, 2).join(",")},… (${nodes.length})`;
}

function table(header: string[], rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Decimal units, as GPU datasheets give memory; MB for small models. */
function gb(bytes: number): string {
  return Math.abs(bytes) >= 1e9 || bytes === 0
    ? `${(bytes / 1e9).toFixed(1)} GB`
    : `${(bytes / 1e6).toFixed(1)} MB`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
