import type { ProbeComparison } from "./probes.js";
import type { Percentiles, Slo, TargetSummary } from "./stats.js";

export interface LoadRunInfo {
  readonly model: string;
  readonly ratePerS: number;
  readonly durationS: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly seed: number;
  readonly slo: Slo;
}

const ms = (n: number): string => (Number.isNaN(n) ? "-" : n < 10 ? n.toFixed(3) : n.toFixed(1));
const num = (n: number, digits = 2): string => (Number.isNaN(n) ? "-" : n.toFixed(digits));

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
}

function percentileRows(
  label: string,
  pick: (s: TargetSummary) => Percentiles,
  targets: readonly TargetSummary[],
) {
  return ([50, 90, 99] as const).map((p) => {
    const values = targets.map((t) => pick(t)[p]);
    const row = [`${label} p${p} (ms)`, ...values.map(ms)];
    if (targets.length === 2) row.push(ms((values[0] ?? Number.NaN) - (values[1] ?? Number.NaN)));
    return row;
  });
}

/** The result table: one column per target and, with two targets, the first minus the second. */
export function loadTable(
  info: LoadRunInfo,
  targets: readonly TargetSummary[],
  probes?: ProbeComparison,
): string {
  const header = ["", ...targets.map((t) => t.target)];
  if (targets.length === 2) header.push(`${targets[0]?.target} − ${targets[1]?.target}`);
  const sloText = [
    info.slo.ttftMs === undefined ? undefined : `TTFT ≤ ${info.slo.ttftMs} ms`,
    info.slo.tpotMs === undefined ? undefined : `TPOT ≤ ${info.slo.tpotMs} ms`,
  ]
    .filter(Boolean)
    .join(", ");
  const rows: string[][] = [
    header,
    ["requests (ok / failed)", ...targets.map((t) => `${t.succeeded} / ${t.failed}`)],
    ...percentileRows("TTFT", (t) => t.ttftMs, targets),
    ...percentileRows("TPOT", (t) => t.tpotMs, targets),
    ...percentileRows("ITL", (t) => t.itlMs, targets),
    ["output tokens/s", ...targets.map((t) => num(t.outputTokensPerS, 1))],
    ["requests/s", ...targets.map((t) => num(t.requestsPerS))],
    [`goodput req/s (${sloText || "no SLO"})`, ...targets.map((t) => num(t.goodputPerS))],
    ["SLO attainment", ...targets.map((t) => `${num(t.sloAttainment * 100, 1)}%`)],
  ];
  const gw = targets.find((t) => t.gatewayMs !== undefined)?.gatewayMs;
  if (gw) {
    rows.push(["gateway own time p50 / p99 (ms)", `${ms(gw[50])} / ${ms(gw[99])}`]);
  }
  if (probes) {
    rows.push(
      [
        `idle probes ×${probes.probes} p50 (ms)`,
        ms(probes.gatewayMs[50]),
        ms(probes.directMs[50]),
        ms(probes.addedMs[50]),
      ],
      [
        `idle probes ×${probes.probes} p99 (ms)`,
        ms(probes.gatewayMs[99]),
        ms(probes.directMs[99]),
        ms(probes.addedMs[99]),
      ],
      ["idle probes, median of paired differences (ms)", "", "", ms(probes.pairedMedianMs)],
    );
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const title =
    `strata bench load — model ${info.model}, Poisson ${info.ratePerS}/s for ${info.durationS} s (seed ${info.seed}), ` +
    `${info.inputTokens} input / ${info.outputTokens} output tokens`;
  return [title, ...rows.map((r) => pad(r, widths))].join("\n");
}

const COLOURS = ["#1f77b4", "#ff7f0e"];
const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * Three panels (TTFT, TPOT, ITL), each with p50/p90/p99 bars per target, on
 * its own linear scale in ms.
 */
export function loadSvg(info: LoadRunInfo, targets: readonly TargetSummary[]): string {
  const width = 960;
  const height = 420;
  const top = 100;
  const bottom = 50;
  const panelW = 300;
  const plotH = height - top - bottom;
  const panels: [string, (t: TargetSummary) => Percentiles][] = [
    ["TTFT (ms)", (t) => t.ttftMs],
    ["TPOT (ms)", (t) => t.tpotMs],
    ["inter-token latency (ms)", (t) => t.itlMs],
  ];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="20" y="28" font-size="16">${esc(
      `strata bench load: ${info.model}, ${info.ratePerS} req/s Poisson, ${info.inputTokens} in / ${info.outputTokens} out tokens`,
    )}</text>`,
  ];
  targets.forEach((t, i) => {
    parts.push(
      `<rect x="${20 + i * 160}" y="40" width="12" height="12" fill="${COLOURS[i % 2]}"/>`,
      `<text x="${38 + i * 160}" y="51" font-size="12">${esc(t.target)}</text>`,
    );
  });
  panels.forEach(([label, pick], pi) => {
    const x0 = 40 + pi * (panelW + 15);
    const values = targets.flatMap((t) => [50, 90, 99].map((p) => pick(t)[p as 50 | 90 | 99]));
    const max = Math.max(1e-6, ...values.filter((v) => !Number.isNaN(v)));
    parts.push(
      `<text x="${x0}" y="${top - 22}" font-size="13">${esc(label)}</text>`,
      `<line x1="${x0}" y1="${top + plotH}" x2="${x0 + panelW - 20}" y2="${top + plotH}" stroke="#333"/>`,
    );
    const groupW = (panelW - 20) / 3;
    const barW = (groupW - 16) / Math.max(1, targets.length);
    ([50, 90, 99] as const).forEach((p, gi) => {
      const gx = x0 + gi * groupW + 8;
      targets.forEach((t, ti) => {
        const v = pick(t)[p];
        const h = Number.isNaN(v) ? 0 : (v / max) * plotH;
        const bx = gx + ti * barW;
        parts.push(
          `<rect x="${bx.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[ti % 2]}"/>`,
          `<text x="${(bx + (barW - 2) / 2).toFixed(1)}" y="${(top + plotH - h - 4).toFixed(1)}" font-size="10" text-anchor="middle">${Number.isNaN(v) ? "" : v < 10 ? v.toFixed(2) : v.toFixed(0)}</text>`,
        );
      });
      parts.push(
        `<text x="${(gx + (groupW - 16) / 2).toFixed(1)}" y="${top + plotH + 18}" font-size="12" text-anchor="middle">p${p}</text>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("\n");
}
