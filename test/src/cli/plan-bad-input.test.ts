import { afterAll, describe, expect, it } from "vitest";
import { DEEPSEEK_V3_CONFIG, fixtureDir, strata, TINY_CONFIG, tinyGgufHeader } from "./plan-fixtures.js";

// Bad input, tried as a new user would: one line on stderr naming the field, exit 2, no stack trace.
const fixtures = fixtureDir();
afterAll(() => fixtures.cleanup());

const header = tinyGgufHeader();
const badMagic = header.slice();
badMagic.set([0x47, 0x47, 0x4d, 0x4c], 0); // "GGML"
const files = {
  notJson: fixtures.write("broken/config.json", '{ "num_hidden_layers": 32,'),
  truncatedJson: fixtures.write("cut/config.json", JSON.stringify(TINY_CONFIG).slice(0, 60)),
  missingKey: fixtures.write(
    "nokey/config.json",
    JSON.stringify({ ...TINY_CONFIG, num_hidden_layers: undefined }),
  ),
  badValue: fixtures.write("neg/config.json", JSON.stringify({ ...TINY_CONFIG, hidden_size: -4096 })),
  truncatedGguf: fixtures.write("cut.gguf", header.subarray(0, Math.floor(header.length / 3))),
  badMagicGguf: fixtures.write("magic.gguf", badMagic),
  emptyGguf: fixtures.write("empty.gguf", new Uint8Array(0)),
  gguf: fixtures.write("ok.gguf", header),
  // DeepSeek-V3's published config.json with one field taken out or pushed past its bound.
  noExpertSize: fixtures.write(
    "v3-no-moe-size/config.json",
    JSON.stringify({ ...DEEPSEEK_V3_CONFIG, moe_intermediate_size: undefined }),
  ),
  tooManyActive: fixtures.write(
    "v3-topk/config.json",
    JSON.stringify({ ...DEEPSEEK_V3_CONFIG, num_experts_per_tok: 300 }),
  ),
  unknownType: fixtures.write("mllama/config.json", JSON.stringify({ ...TINY_CONFIG, model_type: "mllama" })),
  unknownField: fixtures.write(
    "extra/config.json",
    JSON.stringify({ ...DEEPSEEK_V3_CONFIG, n_dense_experts: 2 }),
  ),
  awq: fixtures.write(
    "awq/config.json",
    JSON.stringify({ ...TINY_CONFIG, quantization_config: { quant_method: "awq", bits: 4 } }),
  ),
};

const base = ["plan", "--model", "llama-3.1-8b", "--gpu", "h100-sxm-80g"];
const cases: Array<[string, string[], RegExp]> = [
  ["unknown model", ["plan", "--model", "gpt-5", "--gpu", "h100"], /^strata: --model: unknown model "gpt-5"/],
  ["missing model", ["plan", "--gpu", "h100"], /^strata: --model: is required/],
  [
    "missing model file",
    ["plan", "--model", "./nope/config.json", "--gpu", "h100"],
    /^strata: --model: cannot read/,
  ],
  [
    "unknown GPU",
    ["plan", "--model", "llama-3.1-8b", "--gpu", "rtx-9090"],
    /^strata: --gpu: unknown GPU "rtx-9090"/,
  ],
  ["missing GPU", ["plan", "--model", "llama-3.1-8b"], /^strata: --gpu: is required/],
  [
    "config.json not JSON",
    ["plan", "--model", files.notJson, "--gpu", "h100"],
    /config\.json: is not valid JSON/,
  ],
  [
    "truncated config.json",
    ["plan", "--model", files.truncatedJson, "--gpu", "h100"],
    /config\.json: is not valid JSON/,
  ],
  [
    "config.json without a key",
    ["plan", "--model", files.missingKey, "--gpu", "h100"],
    /config\.json: num_hidden_layers: is missing/,
  ],
  [
    "config.json negative size",
    ["plan", "--model", files.badValue, "--gpu", "h100"],
    /config\.json: hidden_size: must be a positive integer/,
  ],
  [
    "truncated GGUF",
    ["plan", "--model", files.truncatedGguf, "--gpu", "cpu"],
    /cut\.gguf: file ends inside the header/,
  ],
  [
    "empty GGUF",
    ["plan", "--model", files.emptyGguf, "--gpu", "cpu"],
    /empty\.gguf: file ends inside the header/,
  ],
  ["not a GGUF", ["plan", "--model", files.badMagicGguf, "--gpu", "cpu"], /magic\.gguf: not a GGUF file/],
  ["zero nodes", [...base, "--nodes", "0"], /^strata: --nodes: must be a positive integer, got "0"/],
  ["negative nodes", [...base, "--nodes", "-2"], /^strata: --nodes: must be a positive integer, got "-2"/],
  [
    "zero GPUs per node",
    [...base, "--gpus-per-node", "0"],
    /^strata: --gpus-per-node: must be a positive integer/,
  ],
  [
    "negative concurrency",
    [...base, "--concurrency", "-1"],
    /^strata: --concurrency: must be a positive integer/,
  ],
  [
    "non-numeric nodes",
    [...base, "--nodes", "two"],
    /^strata: --nodes: must be a positive integer, got "two"/,
  ],
  [
    "non-numeric max-model-len",
    [...base, "--max-model-len", "8k"],
    /^strata: --max-model-len: must be a positive integer/,
  ],
  [
    "fractional GPUs per node",
    [...base, "--gpus-per-node", "2.5"],
    /^strata: --gpus-per-node: must be a positive integer/,
  ],
  [
    "utilization above 1",
    [...base, "--gpu-memory-utilization", "1.5"],
    /^strata: --gpu-memory-utilization: must be a number in \(0, 1\]/,
  ],
  [
    "non-numeric utilization",
    [...base, "--gpu-memory-utilization", "most"],
    /^strata: --gpu-memory-utilization:/,
  ],
  [
    "max-model-len over the model's context",
    [...base, "--max-model-len", "200000"],
    /^strata: --max-model-len: 200000 exceeds llama-3\.1-8b's context length of 131072/,
  ],
  [
    "unknown dtype",
    [...base, "--dtype", "fp3"],
    /^strata: --dtype: must be one of bf16, fp16, fp8, int8, mxfp4, int4, got "fp3"/,
  ],
  [
    "unknown objective",
    [...base, "--objective", "fastest"],
    /^strata: --objective: unknown objective "fastest"; known: throughput, latency/,
  ],
  [
    "--pool with --gpu",
    ["plan", "--model", "llama-3.1-8b", "--gpu", "h100", "--pool", "1x8xh100"],
    /^strata: --pool: conflicts with --gpu/,
  ],
  [
    "--pool with --nodes",
    ["plan", "--model", "llama-3.1-8b", "--nodes", "2", "--pool", "1x8xh100"],
    /^strata: --pool: conflicts with --nodes/,
  ],
  [
    "malformed pool",
    ["plan", "--model", "llama-3.1-8b", "--pool", "8*h100"],
    /^strata: --pool: "8\*h100" is not <nodes>x<gpus per node>x<gpu>/,
  ],
  [
    "zero-node pool",
    ["plan", "--model", "llama-3.1-8b", "--pool", "0x8xh100"],
    /^strata: --pool: node count must be an integer from 1/,
  ],
  [
    "pool of an unknown GPU",
    ["plan", "--model", "llama-3.1-8b", "--pool", "1x8xtpu"],
    /^strata: --pool: unknown GPU "tpu"/,
  ],
  [
    "a MoE config.json with n_routed_experts but no moe_intermediate_size",
    ["plan", "--model", files.noExpertSize, "--gpu", "h100"],
    /^strata: .*config\.json: moe_intermediate_size: is missing, and n_routed_experts needs it$/,
  ],
  [
    "a MoE config.json with more experts per token than experts",
    ["plan", "--model", files.tooManyActive, "--gpu", "h100"],
    /^strata: .*config\.json: num_experts_per_tok: 300 exceeds the 256 routed experts \(n_routed_experts\)$/,
  ],
  [
    "an architecture Strata does not model",
    ["plan", "--model", files.unknownType, "--gpu", "h100"],
    /^strata: .*config\.json: model_type: "mllama" is not an architecture Strata models/,
  ],
  [
    "a field the architecture's list does not know",
    ["plan", "--model", files.unknownField, "--gpu", "h100"],
    /^strata: .*config\.json: n_dense_experts: is not a field Strata models for model_type "deepseek_v3"/,
  ],
  [
    "a quantization method without --dtype",
    ["plan", "--model", files.awq, "--gpu", "h100"],
    /^strata: --dtype: is required: .* is quantized with "awq"/,
  ],
  [
    "mxfp4 for a dense model",
    [...base, "--dtype", "mxfp4"],
    /^strata: --dtype: mxfp4 quantizes expert weights, and llama-3\.1-8b has no experts/,
  ],
  [
    "--dtype with a GGUF model",
    ["plan", "--model", files.gguf, "--gpu", "cpu", "--dtype", "fp8"],
    /^strata: --dtype: conflicts with --model .*ok\.gguf/,
  ],
];

describe("strata plan rejects bad input", () => {
  it.each(cases)("%s", async (_name, args, message) => {
    const r = await strata(...args);
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
  });
});
