import type { RequestSample } from "./stream-client.js";

/** Nearest-rank percentile of `values` (0 < p ≤ 100); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export const reportedPercentiles = [50, 90, 99] as const;
export type Percentiles = Readonly<Record<(typeof reportedPercentiles)[number], number>>;

function summarise(values: readonly number[]): Percentiles {
  return { 50: percentile(values, 50), 90: percentile(values, 90), 99: percentile(values, 99) };
}

export interface Slo {
  readonly ttftMs: number | undefined;
  readonly tpotMs: number | undefined;
}

/** Figures for one target (the gateway or the head directly). */
export interface TargetSummary {
  readonly target: string;
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly ttftMs: Percentiles;
  readonly tpotMs: Percentiles;
  readonly itlMs: Percentiles;
  readonly gatewayMs: Percentiles | undefined;
  /** Output tokens per second over the run. */
  readonly outputTokensPerS: number;
  readonly requestsPerS: number;
  /** Requests per second that succeeded within both SLOs. */
  readonly goodputPerS: number;
  readonly sloAttainment: number;
}

export function summariseTarget(target: string, samples: readonly RequestSample[], wallS: number, slo: Slo) {
  const ok = samples.filter((s) => s.error === undefined);
  const meets = (s: RequestSample) =>
    (slo.ttftMs === undefined || (s.ttftMs !== undefined && s.ttftMs <= slo.ttftMs)) &&
    (slo.tpotMs === undefined || s.tpotMs === undefined || s.tpotMs <= slo.tpotMs);
  const good = ok.filter(meets).length;
  const gw = ok.flatMap((s) => (s.gatewayMs === undefined ? [] : [s.gatewayMs]));
  const summary: TargetSummary = {
    target,
    requests: samples.length,
    succeeded: ok.length,
    failed: samples.length - ok.length,
    ttftMs: summarise(ok.flatMap((s) => (s.ttftMs === undefined ? [] : [s.ttftMs]))),
    tpotMs: summarise(ok.flatMap((s) => (s.tpotMs === undefined ? [] : [s.tpotMs]))),
    itlMs: summarise(ok.flatMap((s) => s.itlMs)),
    gatewayMs: gw.length > 0 ? summarise(gw) : undefined,
    outputTokensPerS: ok.reduce((n, s) => n + s.outputTokens, 0) / wallS,
    requestsPerS: ok.length / wallS,
    goodputPerS: good / wallS,
    sloAttainment: samples.length === 0 ? 0 : good / samples.length,
  };
  return summary;
}
