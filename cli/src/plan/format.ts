import { formatLayerRange, type MemoryPerGpu, type Plan } from "@strata/core";

/** A plan as a readable table for a terminal. */
export function formatPlan(plan: Plan, clusterLabel: string): string {
  const lines: string[] = [];
  lines.push(`model    ${plan.model} (${plan.dtype}, ${gb(plan.weightsBytes)} of weights)`);
  lines.push(`cluster  ${clusterLabel}`);
  lines.push(
    `plan     ${plan.fits ? "fits" : "DOES NOT FIT"}: ${layout(plan)}, ${plan.gpusUsed} GPUs, objective ${plan.objective}`,
  );
  lines.push(`why      ${plan.why}`);
  lines.push("");
  // A mixture of experts shows its routed experts' share of the weights in its own column.
  const experts = plan.stages.some((s) => s.memoryPerGpu.expertWeightsBytes > 0);
  lines.push(
    experts
      ? "memory per GPU, by pipeline stage (weights include the experts column):"
      : "memory per GPU, by pipeline stage:",
  );
  const header = [
    "stage",
    "layers",
    "nodes",
    "gpus",
    "gpu",
    "weights",
    ...(experts ? ["experts"] : []),
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
    ...memoryCells(s.memoryPerGpu, experts),
    count(s.kvCacheTokens),
  ]);
  const right = new Set([3, ...Array.from({ length: header.length - 5 }, (_, i) => i + 5)]);
  lines.push(...table(header, rows, right));
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
              `${layout(c)} (${count(c.kvCacheTokens)} kv tokens, ${count(c.maxConcurrentSequences)} sequences)`,
          )
          .join("; "),
    );
  }
  for (const note of plan.notes) lines.push(`note     ${note}`);
  return `${lines.join("\n")}\n`;
}

/** `tp=8 pp=1 dp=1`, with `ep=8` under expert parallelism. */
function layout(c: { tp: number; pp: number; dp: number; ep: number }): string {
  return `tp=${c.tp} pp=${c.pp} dp=${c.dp}${c.ep > 1 ? ` ep=${c.ep}` : ""}`;
}

function memoryCells(m: MemoryPerGpu, experts: boolean): string[] {
  return [
    gb(m.weightsBytes),
    ...(experts ? [gb(m.expertWeightsBytes)] : []),
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

/** Decimal units, as GPU datasheets give memory; MB for small models, TB for the largest. */
function gb(bytes: number): string {
  if (Math.abs(bytes) >= 1e12) return `${(bytes / 1e12).toFixed(2)} TB`;
  return Math.abs(bytes) >= 1e9 || bytes === 0
    ? `${(bytes / 1e9).toFixed(1)} GB`
    : `${(bytes / 1e6).toFixed(1)} MB`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
