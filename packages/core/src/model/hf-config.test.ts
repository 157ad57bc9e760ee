import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { findModel, MODEL_CATALOG } from "./catalog.js";
import { modelSpecFromHfConfig } from "./hf-config.js";
import { modelShape, totalParams, weightBytes } from "./model-spec.js";

// Llama 3.1 405B's config.json, the keys that matter
// (https://huggingface.co/meta-llama/Llama-3.1-405B/blob/main/config.json).
const LLAMA_405B_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  hidden_size: 16384,
  intermediate_size: 53248,
  max_position_embeddings: 131072,
  num_attention_heads: 128,
  num_hidden_layers: 126,
  num_key_value_heads: 8,
  rope_theta: 500000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  vocab_size: 128256,
};

describe("modelSpecFromHfConfig", () => {
  it("reads a llama config.json into the catalog's spec", () => {
    const spec = modelSpecFromHfConfig(LLAMA_405B_CONFIG, { name: "llama-3.1-405b" });
    expect(spec).toEqual(findModel("llama-3.1-405b"));
  });

  it("reads the language model of a multimodal config from text_config", () => {
    const spec = modelSpecFromHfConfig(
      { model_type: "mllama", text_config: LLAMA_405B_CONFIG },
      { name: "x" },
    );
    expect(spec.numLayers).toBe(126);
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
  ])("rejects %j naming the key", (json, message) => {
    expect(() => modelSpecFromHfConfig(json)).toThrow(InputError);
    expect(() => modelSpecFromHfConfig(json)).toThrow(message);
  });
});

describe("catalog", () => {
  it.each([
    ["llama-3.1-8b", 8.03e9],
    ["llama-3.1-70b", 70.55e9],
    ["llama-3.1-405b", 405.85e9],
    ["llama-3.3-70b", 70.55e9],
  ])("%s has the published parameter count", (name, params) => {
    expect(totalParams(findModel(name)) / params).toBeCloseTo(1, 3);
  });

  it("finds Hugging Face ids and instruct variants", () => {
    expect(findModel("meta-llama/Llama-3.1-405B-Instruct").name).toBe("llama-3.1-405b");
    expect(findModel("Llama-3.3-70B-Instruct").name).toBe("llama-3.3-70b");
  });

  it("names the known models when one is unknown", () => {
    expect(() => findModel("gpt-5")).toThrow(/--model: unknown model "gpt-5"; known: llama-3.1-8b/);
  });

  it("counts bf16 weights as two bytes per parameter", () => {
    for (const spec of MODEL_CATALOG) {
      expect(weightBytes(spec, "bf16").totalBytes).toBe(2 * totalParams(spec));
      expect(modelShape(spec)).not.toHaveProperty("weights");
    }
  });

  it("keeps embedding and head in 16-bit for fp8", () => {
    const spec = findModel("llama-3.1-405b");
    const fp8 = weightBytes(spec, "fp8");
    expect(fp8.embeddingBytes).toBe(2 * 128256 * 16384);
    expect(fp8.totalBytes / 1e9).toBeCloseTo(410.06, 1);
  });
});
