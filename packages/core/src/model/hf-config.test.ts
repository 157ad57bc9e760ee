import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { findModel } from "./catalog.js";
import { HF_ARCHITECTURES, HF_NESTED_ARCHITECTURES } from "./hf-architectures.js";
import { modelSpecFromHfConfig } from "./hf-config.js";
import { activeParams, kvElementsPerTokenPerLayer, moeLayerCount, totalParams } from "./model-spec.js";

const CONFIG_DIR = new URL("./hf-configs/", import.meta.url);
const FILES = readdirSync(CONFIG_DIR).filter((f) => f.endsWith(".json"));

/** A published config.json from hf-configs/ (SOURCES.md says where each was read). */
function publishedConfig(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, CONFIG_DIR), "utf8")) as Record<string, unknown>;
}

const LLAMA_405B_CONFIG = publishedConfig("meta-llama--Meta-Llama-3.1-405B.json");
const DEEPSEEK_V3 = publishedConfig("deepseek-ai--DeepSeek-V3.json");
const MAVERICK = publishedConfig("meta-llama--Llama-4-Maverick-17B-128E-Instruct.json");

/**
 * Maverick with the published keys the mirrored copy drops (hf-configs/SOURCES.md):
 * the text_config extras and vision_config as TensorRT-LLM's test reproduces them,
 * layer counts at their published values.
 */
const MAVERICK_FULL = {
  ...MAVERICK,
  boi_token_index: 200080,
  eoi_token_index: 200081,
  image_token_index: 200092,
  text_config: {
    ...(MAVERICK.text_config as object),
    _attn_implementation_autoset: true,
    bos_token_id: 200000,
    eos_token_id: [200001, 200007, 200008],
    for_llm_compressor: false,
    initializer_range: 0.02,
    pad_token_id: 200018,
    router_jitter_noise: 0.0,
  },
  vision_config: {
    _attn_implementation_autoset: true,
    attention_dropout: 0.0,
    hidden_act: "gelu",
    hidden_size: 1408,
    image_size: 336,
    initializer_range: 0.02,
    intermediate_size: 5632,
    model_type: "llama4_vision_model",
    multi_modal_projector_bias: false,
    norm_eps: 1e-5,
    num_attention_heads: 16,
    num_channels: 3,
    num_hidden_layers: 34,
    patch_size: 14,
    pixel_shuffle_ratio: 0.5,
    projector_dropout: 0.0,
    projector_input_dim: 4096,
    projector_output_dim: 4096,
    rope_theta: 10000,
    vision_feature_layer: -1,
    vision_feature_select_strategy: "default",
    vision_output_dim: 4096,
  },
};

function load(json: unknown) {
  return modelSpecFromHfConfig(json, { name: "m" });
}

function errorOf(json: unknown): string {
  try {
    load(json);
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error("expected the config to be refused");
}

describe("published configs", () => {
  it("has a copy of every supported architecture's published config", () => {
    const types = new Set(FILES.map((f) => publishedConfig(f).model_type));
    for (const t of [
      "llama",
      "mixtral",
      "qwen3",
      "qwen3_moe",
      "deepseek_v3",
      "kimi_k2",
      "gpt_oss",
      "llama4",
    ]) {
      expect(types).toContain(t);
    }
  });

  it.each(FILES)("%s: every field is on its architecture's list and the file loads", (file) => {
    const json = publishedConfig(file);
    const list = HF_ARCHITECTURES.get(String(json.model_type));
    expect(list).toBeDefined();
    for (const key of Object.keys(json)) {
      expect([...(list?.reads ?? []), ...(list?.harmless ?? [])]).toContain(key);
    }
    const spec = load(json);
    expect(totalParams(spec)).toBeGreaterThan(1e9);
  });

  it.each(FILES)("%s: a field the architecture does not know is refused, by name", (file) => {
    const json = { ...publishedConfig(file), n_dense_experts: 4 };
    expect(errorOf(json)).toMatch(
      /^config\.json: n_dense_experts: is not a field Strata models for model_type/,
    );
  });

  it("feeds the nested Llama 4 text and vision configs' published fields", () => {
    for (const [key, type] of [
      ["text_config", "llama4_text"],
      ["vision_config", "llama4_vision_model"],
    ] as const) {
      const list = HF_NESTED_ARCHITECTURES.get(type);
      for (const field of Object.keys(MAVERICK_FULL[key])) {
        expect([...(list?.reads ?? []), ...(list?.harmless ?? [])]).toContain(field);
      }
    }
    const text = load(MAVERICK);
    const full = load(MAVERICK_FULL);
    // The vision encoder and projector: 0.87B parameters, as transformers counts Llama 4's.
    expect(((full.extraParams ?? 0) / 1e9).toFixed(2)).toBe("0.87");
    expect(totalParams(full) - totalParams(text)).toBe(full.extraParams);
    expect(() =>
      load({ ...MAVERICK_FULL, vision_config: { ...MAVERICK_FULL.vision_config, depth: 3 } }),
    ).toThrow("config.json: vision_config: depth: is not a field");
  });
});

describe("modelSpecFromHfConfig", () => {
  it("reads a llama config.json into the catalog's spec", () => {
    const spec = modelSpecFromHfConfig(LLAMA_405B_CONFIG, { name: "llama-3.1-405b" });
    expect(spec).toEqual(findModel("llama-3.1-405b"));
  });

  it.each([
    ["deepseek-ai--DeepSeek-V3.json", "deepseek-v3"],
    ["deepseek-ai--DeepSeek-R1.json", "deepseek-r1"],
    ["Qwen--Qwen3-235B-A22B.json", "qwen3-235b-a22b"],
    ["mistralai--Mixtral-8x7B-v0.1.json", "mixtral-8x7b"],
    ["openai--gpt-oss-120b.json", "gpt-oss-120b"],
    ["meta-llama--Llama-4-Maverick-17B-128E-Instruct.json", "llama-4-maverick"],
  ])("%s loads into the catalog entry %s", (file, name) => {
    expect(modelSpecFromHfConfig(publishedConfig(file), { name })).toEqual(findModel(name));
  });

  it("reads DeepSeek-V3's MLA cache, dense leading layers and shared expert", () => {
    const spec = load(DEEPSEEK_V3);
    expect(kvElementsPerTokenPerLayer(spec)).toBe(512 + 64);
    expect(spec.moe?.denseLayers).toEqual([0, 1, 2]);
    expect(moeLayerCount(spec)).toBe(58);
    expect(spec.moe).toMatchObject({ sharedExperts: 1, sharedExpertFfnSize: 2048, expertsPerToken: 8 });
    expect(spec.weights).toEqual({ kind: "dtype", checkpointDtype: "fp8" });
  });

  it("reads Llama 4's interleaved MoE layers from the step, or from moe_layers", () => {
    const spec = load(MAVERICK);
    expect(moeLayerCount(spec)).toBe(24);
    expect(spec.moe?.denseLayers.slice(0, 3)).toEqual([0, 2, 4]);
    const listed = load({
      ...MAVERICK,
      text_config: { ...(MAVERICK.text_config as object), moe_layers: [0, 47] },
    });
    expect(moeLayerCount(listed)).toBe(2);
  });

  it("counts gpt-oss's experts at 4.25 bits and everything else at 16 in its shipped mxfp4", () => {
    const spec = load(publishedConfig("openai--gpt-oss-120b.json"));
    expect(spec.weights).toEqual({ kind: "dtype", checkpointDtype: "mxfp4" });
    expect(activeParams(spec) / 1e9).toBeCloseTo(5.13, 2);
  });

  it("keeps an unknown quantization method for the planner to ask about", () => {
    const spec = load({ ...LLAMA_405B_CONFIG, quantization_config: { quant_method: "awq", bits: 4 } });
    expect(spec.weights).toEqual({ kind: "dtype", quantization: "awq" });
  });

  it("defaults KV heads to attention heads and head_dim to hidden / heads", () => {
    const { num_key_value_heads: _, ...mha } = LLAMA_405B_CONFIG;
    const spec = modelSpecFromHfConfig(mha);
    expect(spec.numKvHeads).toBe(128);
    expect(spec.headDim).toBe(128);
    expect(spec.name).toBe("model");
  });

  it.each([
    [[], "config.json: must be a JSON object"],
    [
      { ...LLAMA_405B_CONFIG, model_type: undefined },
      "config.json: model_type: is missing; supported: llama",
    ],
    [
      { ...LLAMA_405B_CONFIG, model_type: "mllama" },
      'config.json: model_type: "mllama" is not an architecture Strata models',
    ],
    [{ ...LLAMA_405B_CONFIG, num_hidden_layers: undefined }, "config.json: num_hidden_layers: is missing"],
    [
      { ...LLAMA_405B_CONFIG, hidden_size: "big" },
      'config.json: hidden_size: must be a positive integer, got "big"',
    ],
    [{ ...LLAMA_405B_CONFIG, vocab_size: 0 }, "config.json: vocab_size: must be a positive integer, got 0"],
    [{ ...LLAMA_405B_CONFIG, num_key_value_heads: 7 }, "config.json: numKvHeads: 7 KV heads do not divide"],
    [
      { ...LLAMA_405B_CONFIG, tie_word_embeddings: "no" },
      "config.json: tie_word_embeddings: must be true or false",
    ],
    [{ ...LLAMA_405B_CONFIG, mlp_bias: true }, "config.json: mlp_bias: true is not modelled"],
    [
      { ...LLAMA_405B_CONFIG, n_routed_experts: 64 },
      'config.json: n_routed_experts: is not a field Strata models for model_type "llama"',
    ],
    [
      { ...DEEPSEEK_V3, moe_intermediate_size: undefined },
      "config.json: moe_intermediate_size: is missing, and n_routed_experts needs it",
    ],
    [
      { ...DEEPSEEK_V3, num_experts_per_tok: 257 },
      "config.json: num_experts_per_tok: 257 exceeds the 256 routed experts (n_routed_experts)",
    ],
    [
      { ...DEEPSEEK_V3, n_routed_experts: undefined },
      "config.json: moe_intermediate_size: is set, but n_routed_experts is missing",
    ],
    [
      { ...publishedConfig("mistralai--Mixtral-8x7B-v0.1.json"), num_experts_per_tok: 9 },
      "config.json: num_experts_per_tok: 9 exceeds the 8 routed experts (num_local_experts)",
    ],
    [
      { ...publishedConfig("Qwen--Qwen3-235B-A22B.json"), shared_expert_intermediate_size: 4096 },
      'config.json: shared_expert_intermediate_size: is not a field Strata models for model_type "qwen3_moe"',
    ],
    [
      { ...publishedConfig("openai--gpt-oss-120b.json"), experts_per_token: 8 },
      "config.json: experts_per_token: 8 disagrees with num_experts_per_tok 4",
    ],
  ])("rejects %j naming the field", (json, message) => {
    expect(errorOf(json)).toContain(message);
  });
});
