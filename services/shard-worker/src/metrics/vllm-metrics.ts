/**
 * What vLLM reports about itself on node 0's `/metrics` (Prometheus text; every
 * sample carries a `model_name` label). Names as vLLM's V1 engine defines them
 * (docs/design/metrics.md in vLLM; vllm/v1/metrics/loggers.py); the KV gauge is
 * `vllm:kv_cache_usage_perc` since vLLM 0.9.2 (0–1), `vllm:gpu_cache_usage_perc`
 * before. Only node 0 serves them: headless ranks have no HTTP.
 */
import type { EngineFigures } from "./llama-metrics.js";

export const VLLM_METRIC_NAMES = {
  requestsRunning: "vllm:num_requests_running",
  requestsWaiting: "vllm:num_requests_waiting",
  kvCacheUsage: "vllm:kv_cache_usage_perc",
  kvCacheUsageBefore092: "vllm:gpu_cache_usage_perc",
  promptTokens: "vllm:prompt_tokens_total",
  generatedTokens: "vllm:generation_tokens_total",
} as const;

/** Every sample of a Prometheus text exposition, summed per metric name over its label sets. */
export function sumPrometheusSamples(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const name = match[1] as string;
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return sums;
}

/** The engine figures in vLLM's exposition (absent metrics read as 0). */
export function vllmFigures(text: string): EngineFigures {
  const s = sumPrometheusSamples(text);
  const n = VLLM_METRIC_NAMES;
  return {
    requestsRunning: s.get(n.requestsRunning) ?? 0,
    requestsWaiting: s.get(n.requestsWaiting) ?? 0,
    promptTokensTotal: s.get(n.promptTokens) ?? 0,
    generatedTokensTotal: s.get(n.generatedTokens) ?? 0,
    kvCacheUsage: Math.min(1, s.get(n.kvCacheUsage) ?? s.get(n.kvCacheUsageBefore092) ?? 0),
  };
}

const scrapeTimeoutMs = 2_000;

/** Reads node 0's figures over loopback; throws when it does not answer. */
export async function scrapeVllm(baseUrl: string): Promise<EngineFigures> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(scrapeTimeoutMs) });
  if (!response.ok) throw new Error(`vLLM /metrics answered ${response.status}`);
  return vllmFigures(await response.text());
}
