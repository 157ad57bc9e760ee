/**
 * What llama-server reports about itself, read from its own endpoints:
 * `/metrics` (Prometheus text; needs `--metrics`) for requests and token
 * counters, and `/slots` for KV-cache occupancy (this llama.cpp's /metrics has
 * no KV figure). Metric names as llama.cpp defines them in
 * tools/server/server-task.cpp (server_task_result_metrics::to_metrics), see
 * https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md#get-metrics-prometheus-compatible-metrics-exporter
 */

export interface EngineFigures {
  readonly requestsRunning: number;
  readonly requestsWaiting: number;
  readonly promptTokensTotal: number;
  readonly generatedTokensTotal: number;
  /** Tokens held by busy slots over the total context, 0..1. */
  readonly kvCacheUsage: number;
  /**
   * Tokens generated so far by requests still running (llama.cpp adds them to
   * its counter only when a request ends); for a live tokens/s.
   */
  readonly inFlightGeneratedTokens?: number;
}

const LLAMA = {
  requestsRunning: "llamacpp:requests_processing",
  requestsWaiting: "llamacpp:requests_deferred",
  promptTokens: "llamacpp:prompt_tokens_total",
  generatedTokens: "llamacpp:tokens_predicted_total",
} as const;

/** Unlabelled samples of a Prometheus text exposition: name → value. */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) samples.set(match[1] as string, value);
  }
  return samples;
}

interface SlotJson {
  n_ctx?: number;
  is_processing?: boolean;
  n_prompt_tokens?: number;
  next_token?: Array<{ n_decoded?: number }>;
}

/** Tokens generated so far by the requests busy slots are running. */
export function inFlightGeneratedFromSlots(slots: unknown): number {
  if (!Array.isArray(slots)) return 0;
  return (slots as SlotJson[])
    .filter((s) => s.is_processing)
    .reduce((sum, s) => sum + (s.next_token?.[0]?.n_decoded ?? 0), 0);
}

/** KV-cache occupancy from /slots: tokens of busy slots (prompt + generated) over all slots' context. */
export function kvUsageFromSlots(slots: unknown): number {
  if (!Array.isArray(slots)) return 0;
  let capacity = 0;
  let used = 0;
  for (const slot of slots as SlotJson[]) {
    capacity += slot.n_ctx ?? 0;
    if (slot.is_processing) used += (slot.n_prompt_tokens ?? 0) + (slot.next_token?.[0]?.n_decoded ?? 0);
  }
  return capacity === 0 ? 0 : Math.min(1, used / capacity);
}

const scrapeTimeoutMs = 2_000;

/** Reads llama-server's figures over loopback; throws when it does not answer. */
export async function scrapeLlamaServer(baseUrl: string): Promise<EngineFigures> {
  const [metricsRes, slotsRes] = await Promise.all([
    fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(scrapeTimeoutMs) }),
    fetch(`${baseUrl}/slots`, { signal: AbortSignal.timeout(scrapeTimeoutMs) }),
  ]);
  if (!metricsRes.ok) throw new Error(`llama-server /metrics answered ${metricsRes.status}`);
  const samples = parsePrometheusText(await metricsRes.text());
  const slots: unknown = slotsRes.ok ? await slotsRes.json() : [];
  return {
    requestsRunning: samples.get(LLAMA.requestsRunning) ?? 0,
    requestsWaiting: samples.get(LLAMA.requestsWaiting) ?? 0,
    promptTokensTotal: samples.get(LLAMA.promptTokens) ?? 0,
    generatedTokensTotal: samples.get(LLAMA.generatedTokens) ?? 0,
    kvCacheUsage: kvUsageFromSlots(slots),
    inFlightGeneratedTokens: inFlightGeneratedFromSlots(slots),
  };
}
