/** The shard worker's metric names: a contract with dashboards, so constants, here only. */
export const WORKER_METRICS = {
  requestsRunning: "strata_worker_requests_running",
  requestsWaiting: "strata_worker_requests_waiting",
  promptTokens: "strata_worker_prompt_tokens_total",
  generatedTokens: "strata_worker_generated_tokens_total",
  kvCacheUsage: "strata_worker_kv_cache_usage_ratio",
  engineUp: "strata_worker_engine_up",
  engineRestarts: "strata_worker_engine_restarts_total",
  engineScrapeErrors: "strata_worker_engine_scrape_errors_total",
  tunnelBytes: "strata_tunnel_bytes_total",
  tunnelStreams: "strata_tunnel_streams_open",
  tunnelMessageLatency: "strata_tunnel_message_latency_seconds",
  tunnelRejected: "strata_tunnel_rejected_streams_total",
  heartbeatsPublished: "strata_worker_heartbeats_published_total",
} as const;
