import type { GgufHeader, GgufValue } from "@strata/core";
import { describe, expect, it } from "vitest";
import { hfTokenizerFromGguf } from "./tokenizer.js";

function header(entries: Record<string, GgufValue>): GgufHeader {
  return {
    version: 3,
    metadata: new Map(Object.entries(entries)),
    tensors: [],
    alignment: 32,
    dataOffset: 0,
  };
}

/** A vocabulary shaped like SmolLM2's: control tokens first, then byte-level pieces and merges. */
const SMOL_LIKE: Record<string, GgufValue> = {
  "tokenizer.ggml.model": "gpt2",
  "tokenizer.ggml.pre": "smollm",
  "tokenizer.ggml.tokens": [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<extra>",
    "Ġ",
    "t",
    "Ġt",
    "h",
    "Ġth",
  ],
  "tokenizer.ggml.token_type": [3, 3, 3, 4, 1, 1, 1, 1, 1],
  "tokenizer.ggml.merges": ["Ġ t", "Ġt h"],
  "tokenizer.ggml.bos_token_id": 1,
  "tokenizer.ggml.eos_token_id": 2,
  "tokenizer.ggml.unknown_token_id": 0,
  "tokenizer.ggml.padding_token_id": 2,
  "tokenizer.ggml.add_bos_token": false,
  "tokenizer.chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}",
};

describe("Hugging Face tokenizer from a GGUF vocabulary", () => {
  it("carries tokens, merges and control tokens over as a byte-level BPE", () => {
    const { tokenizer, tokenizerConfig, specialTokensMap } = hfTokenizerFromGguf(header(SMOL_LIKE), 8192);
    const model = tokenizer.model as { type: string; vocab: Record<string, number>; merges: string[][] };
    expect(model.type).toBe("BPE");
    expect(model.vocab).toMatchObject({ "<|im_end|>": 2, Ġt: 6, Ġth: 8 });
    expect(model.merges).toEqual([
      ["Ġ", "t"],
      ["Ġt", "h"],
    ]);
    expect(tokenizer.added_tokens).toEqual([
      expect.objectContaining({ id: 0, content: "<|endoftext|>", special: true }),
      expect.objectContaining({ id: 1, content: "<|im_start|>", special: true }),
      expect.objectContaining({ id: 2, content: "<|im_end|>", special: true }),
      expect.objectContaining({ id: 3, content: "<extra>", special: false }),
    ]);
    expect(specialTokensMap).toEqual({
      bos_token: "<|im_start|>",
      eos_token: "<|im_end|>",
      unk_token: "<|endoftext|>",
      pad_token: "<|im_end|>",
    });
    expect(tokenizerConfig).toMatchObject({
      model_max_length: 8192,
      add_bos_token: false,
      chat_template: SMOL_LIKE["tokenizer.chat_template"],
    });
  });

  it("splits digits one by one before the byte-level regex for smollm, as llama.cpp does", () => {
    const { tokenizer } = hfTokenizerFromGguf(header(SMOL_LIKE), 8192);
    expect(tokenizer.pre_tokenizer).toEqual({
      type: "Sequence",
      pretokenizers: [
        { type: "Digits", individual_digits: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    });
    expect(tokenizer.post_processor).toMatchObject({ type: "ByteLevel" });
  });

  it("prepends BOS in the post-processor when the GGUF asks for it", () => {
    const { tokenizer } = hfTokenizerFromGguf(
      header({ ...SMOL_LIKE, "tokenizer.ggml.pre": "default", "tokenizer.ggml.add_bos_token": true }),
      512,
    );
    expect(tokenizer.pre_tokenizer).toMatchObject({ type: "ByteLevel", use_regex: true });
    const processors = (tokenizer.post_processor as { processors: { type: string; single?: unknown }[] })
      .processors;
    expect(processors[1]).toMatchObject({
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<|im_start|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      special_tokens: { "<|im_start|>": { ids: [1] } },
    });
  });

  it.each([
    ["a SentencePiece vocabulary", { "tokenizer.ggml.model": "llama" }, /tokenizer\.ggml\.model: is "llama"/],
    ["an unknown pre-tokenizer", { "tokenizer.ggml.pre": "qwen2" }, /pre-tokenizer "qwen2" is not supported/],
    [
      "a duplicate token",
      { "tokenizer.ggml.tokens": ["a", "a", "b", "c", "d", "e", "f", "g", "h"] },
      /"a" appears twice/,
    ],
    [
      "a BOS id beyond the vocabulary",
      { "tokenizer.ggml.bos_token_id": 99 },
      /bos_token_id: id 99 is beyond/,
    ],
  ])("refuses %s, naming the key", (_what, override, message) => {
    expect(() => hfTokenizerFromGguf(header({ ...SMOL_LIKE, ...override }), 8192)).toThrow(message);
  });
});
