import { describe, expect, it } from "vitest";
import { inFlightGeneratedFromSlots, kvUsageFromSlots, parsePrometheusText } from "./llama-metrics.js";

// The shape llama-server prints (tools/server/server-task.cpp, to_metrics).
const metricsText = `# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed, excluding cached tokens
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 120
# HELP llamacpp:tokens_predicted_total Number of generation tokens processed
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 48
# HELP llamacpp:requests_processing Number of requests processing
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 1
llamacpp:requests_deferred 2
llamacpp:spec_decode_num_accepted_tokens_per_pos_total{position="0"} 3
`;

describe("llama-server figures", () => {
  it("reads unlabelled samples", () => {
    const samples = parsePrometheusText(metricsText);
    expect(samples.get("llamacpp:prompt_tokens_total")).toBe(120);
    expect(samples.get("llamacpp:requests_processing")).toBe(1);
    expect(samples.get("llamacpp:requests_deferred")).toBe(2);
    expect(samples.has("llamacpp:spec_decode_num_accepted_tokens_per_pos_total")).toBe(false);
  });

  it.each([
    ["no slots", [], 0, 0],
    ["not an array", { error: "disabled" }, 0, 0],
    [
      "one busy of two",
      [
        { n_ctx: 1000, is_processing: true, n_prompt_tokens: 100, next_token: [{ n_decoded: 150 }] },
        { n_ctx: 1000, is_processing: false, n_prompt_tokens: 900 },
      ],
      0.125,
      150,
    ],
    ["full", [{ n_ctx: 10, is_processing: true, n_prompt_tokens: 20, next_token: [{ n_decoded: 5 }] }], 1, 5],
  ])("KV use and in-flight tokens from /slots: %s", (_name, slots, kv, inFlight) => {
    expect(kvUsageFromSlots(slots)).toBeCloseTo(kv);
    expect(inFlightGeneratedFromSlots(slots)).toBe(inFlight);
  });
});
