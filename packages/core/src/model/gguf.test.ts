import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { GGML_TYPE } from "./ggml-types.js";
import { GGUF_VALUE_TYPE, GgufTruncatedError, parseGguf } from "./gguf.js";
import { modelSpecFromGguf } from "./gguf-spec.js";
import { encodeGgufHeader, type GgufEntry, type GgufTensorToWrite } from "./gguf-write.js";
import { modelSpecFromHfConfig } from "./hf-config.js";
import { kvElementsPerTokenPerLayer, modelShape } from "./model-spec.js";

// A small llama-shaped model, written both ways. Sizes are multiples of 32 so Q8_0 blocks fit.
const HF_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  num_hidden_layers: 3,
  hidden_size: 64,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  intermediate_size: 160,
  vocab_size: 96,
  tie_word_embeddings: false,
  max_position_embeddings: 512,
};

/** Tensor names and shapes as llama.cpp's convert script writes a llama model. */
function llamaTensors(cfg: typeof HF_CONFIG, tied: boolean): GgufTensorToWrite[] {
  const h = cfg.hidden_size;
  const hd = h / cfg.num_attention_heads;
  const kv = cfg.num_key_value_heads * hd;
  const f = cfg.intermediate_size;
  const shapes: Array<[string, number[], number]> = [
    ["token_embd.weight", [h, cfg.vocab_size], GGML_TYPE.Q8_0],
  ];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    shapes.push(
      [`blk.${i}.attn_norm.weight`, [h], GGML_TYPE.F32],
      [`blk.${i}.attn_q.weight`, [h, h], GGML_TYPE.Q8_0],
      [`blk.${i}.attn_k.weight`, [h, kv], GGML_TYPE.Q8_0],
      [`blk.${i}.attn_v.weight`, [h, kv], GGML_TYPE.Q8_0],
      [`blk.${i}.attn_output.weight`, [h, h], GGML_TYPE.Q8_0],
      [`blk.${i}.ffn_norm.weight`, [h], GGML_TYPE.F32],
      [`blk.${i}.ffn_gate.weight`, [h, f], GGML_TYPE.Q8_0],
      [`blk.${i}.ffn_up.weight`, [h, f], GGML_TYPE.Q8_0],
      [`blk.${i}.ffn_down.weight`, [f, h], GGML_TYPE.Q4_0],
    );
  }
  shapes.push(["output_norm.weight", [h], GGML_TYPE.F32]);
  if (!tied) shapes.push(["output.weight", [h, cfg.vocab_size], GGML_TYPE.Q8_0]);
  return shapes.map(([name, dims, type]) => ({ name, dims, type, offset: 0 }));
}

function llamaMetadata(cfg: typeof HF_CONFIG, name: string): GgufEntry[] {
  const T = GGUF_VALUE_TYPE;
  return [
    { key: "general.architecture", type: T.STRING, value: "llama" },
    { key: "general.name", type: T.STRING, value: name },
    { key: "llama.block_count", type: T.UINT32, value: cfg.num_hidden_layers },
    { key: "llama.context_length", type: T.UINT32, value: cfg.max_position_embeddings },
    { key: "llama.embedding_length", type: T.UINT32, value: cfg.hidden_size },
    { key: "llama.feed_forward_length", type: T.UINT32, value: cfg.intermediate_size },
    { key: "llama.attention.head_count", type: T.UINT32, value: cfg.num_attention_heads },
    { key: "llama.attention.head_count_kv", type: T.UINT32, value: cfg.num_key_value_heads },
    { key: "llama.rope.freq_base", type: T.FLOAT32, value: 500000 },
    {
      key: "tokenizer.ggml.tokens",
      type: T.ARRAY,
      itemType: T.STRING,
      value: Array.from({ length: cfg.vocab_size }, (_, i) => `<${i}>`),
    },
  ];
}

describe("GGUF header", () => {
  const bytes = encodeGgufHeader(llamaMetadata(HF_CONFIG, "tiny"), llamaTensors(HF_CONFIG, false));

  it("loads into the same ModelSpec shape as the config.json of the same model", () => {
    const fromGguf = modelSpecFromGguf(parseGguf(bytes));
    const fromHf = modelSpecFromHfConfig(HF_CONFIG, { name: "tiny" });
    expect(modelShape(fromGguf)).toEqual(modelShape(fromHf));
    expect(fromGguf.numKvHeads).toBe(2);
    expect(fromGguf.headDim).toBe(8);
  });

  it("counts the actual bytes of each tensor by placement", () => {
    const spec = modelSpecFromGguf(parseGguf(bytes));
    if (spec.weights.kind !== "gguf") throw new Error("expected GGUF weights");
    const q8 = (n: number) => (n / 32) * 34;
    expect(spec.weights.embeddingBytes).toBe(q8(64 * 96));
    expect(spec.weights.headBytes).toBe(q8(64 * 96) + 64 * 4);
    const q4 = (n: number) => (n / 32) * 18;
    const layer = q8(64 * 64) * 2 + q8(64 * 16) * 2 + q8(64 * 160) * 2 + q4(160 * 64) + 2 * 64 * 4;
    expect(spec.weights.layerBytes).toEqual([layer, layer, layer]);
    expect(spec.weights.mainType).toBe("Q8_0");
  });

  it("reads tied embeddings from a missing output.weight", () => {
    const tied = encodeGgufHeader(llamaMetadata(HF_CONFIG, "tiny"), llamaTensors(HF_CONFIG, true));
    expect(modelSpecFromGguf(parseGguf(tied)).tiedEmbeddings).toBe(true);
  });

  it("reports a truncated header as GgufTruncatedError at every cut point", () => {
    for (const cut of [0, 3, 8, 20, 100, Math.floor(bytes.length / 2), bytes.length - 40]) {
      expect(() => parseGguf(bytes.subarray(0, cut), { source: "m.gguf" })).toThrow(GgufTruncatedError);
    }
  });

  it("parses from a prefix that ends right after the header", () => {
    const withData = new Uint8Array(bytes.length + 1000);
    withData.set(bytes);
    const header = parseGguf(withData);
    expect(header.dataOffset).toBe(bytes.length);
    expect(parseGguf(bytes).tensors.length).toBe(header.tensors.length);
  });

  it("rejects a bad magic number, an unsupported version and an unknown tensor type", () => {
    const badMagic = bytes.slice();
    badMagic[0] = 0x00;
    expect(() => parseGguf(badMagic, { source: "m.gguf" })).toThrow(/m\.gguf: not a GGUF file/);
    const v1 = bytes.slice();
    new DataView(v1.buffer).setUint32(4, 1, true);
    expect(() => parseGguf(v1)).toThrow(/unsupported GGUF version 1/);
    const badType = encodeGgufHeader(llamaMetadata(HF_CONFIG, "t"), [
      { name: "token_embd.weight", dims: [64, 96], type: 4, offset: 0 },
    ]);
    expect(() => parseGguf(badType)).toThrow(/unknown ggml type 4/);
  });

  it("names the missing metadata key", () => {
    const meta = llamaMetadata(HF_CONFIG, "t").filter((e) => e.key !== "llama.block_count");
    const header = parseGguf(encodeGgufHeader(meta, llamaTensors(HF_CONFIG, false)));
    expect(() => modelSpecFromGguf(header, { source: "m.gguf" })).toThrow(
      new InputError("m.gguf: llama.block_count", "is missing"),
    );
  });

  it("round-trips random metadata through encode and parse", () => {
    const entry = fc.oneof(
      fc.record({ type: fc.constant(GGUF_VALUE_TYPE.UINT32), value: fc.nat({ max: 0xffffffff }) }),
      fc.record({ type: fc.constant(GGUF_VALUE_TYPE.INT64), value: fc.maxSafeInteger() }),
      fc.record({ type: fc.constant(GGUF_VALUE_TYPE.BOOL), value: fc.boolean() }),
      fc.record({ type: fc.constant(GGUF_VALUE_TYPE.STRING), value: fc.string() }),
      fc.record({ type: fc.constant(GGUF_VALUE_TYPE.FLOAT64), value: fc.double({ noNaN: true }) }),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1 }), entry), { selector: (e) => e[0] }),
        (kvs) => {
          const meta = kvs.map(([key, e]) => ({ key, ...e }) as GgufEntry);
          const header = parseGguf(encodeGgufHeader(meta, []));
          for (const [key, e] of kvs) expect(header.metadata.get(key)).toEqual(e.value);
        },
      ),
    );
  });
});

describe("GGUF per-layer metadata", () => {
  it("takes the largest of per-layer values and rejects non-numeric ones", () => {
    const T = GGUF_VALUE_TYPE;
    const base = llamaMetadata(HF_CONFIG, "t").filter((e) => e.key !== "llama.attention.head_count_kv");
    const perLayer = (value: number[]): GgufEntry[] => [
      ...base,
      { key: "llama.attention.head_count_kv", type: T.ARRAY, itemType: T.UINT32, value },
    ];
    const tensors = llamaTensors(HF_CONFIG, false);
    const spec = modelSpecFromGguf(parseGguf(encodeGgufHeader(perLayer([1, 2, 1]), tensors)));
    expect(spec.numKvHeads).toBe(2);
    const bad: GgufEntry[] = [
      ...base,
      { key: "llama.attention.head_count_kv", type: T.ARRAY, itemType: T.STRING, value: ["two"] },
    ];
    expect(() => modelSpecFromGguf(parseGguf(encodeGgufHeader(bad, tensors)))).toThrow(
      /llama\.attention\.head_count_kv: must be a positive integer, got two/,
    );
  });
});

/** A small mixture-of-experts model as llama.cpp writes it (qwen3moe, or deepseek2 with MLA and a dense first layer). */
function moeGguf(arch: "qwen3moe" | "deepseek2", extra: GgufEntry[] = [], drop: string[] = []): Uint8Array {
  const T = GGUF_VALUE_TYPE;
  const h = 64;
  const heads = 8;
  const experts = 8;
  const ffnExp = 32;
  const layers = 3;
  const u32 = (key: string, value: number): GgufEntry => ({ key: `${arch}.${key}`, type: T.UINT32, value });
  const meta: GgufEntry[] = [
    { key: "general.architecture", type: T.STRING, value: arch },
    u32("block_count", layers),
    u32("context_length", 4096),
    u32("embedding_length", h),
    u32("feed_forward_length", 128),
    u32("attention.head_count", heads),
    u32("expert_count", experts),
    u32("expert_used_count", 2),
    u32("expert_feed_forward_length", ffnExp),
    u32("vocab_size", 96),
    { key: `${arch}.rope.freq_base`, type: T.FLOAT32, value: 10000 },
    ...(arch === "deepseek2"
      ? [
          u32("attention.head_count_kv", 1),
          u32("attention.key_length", 32 + 16),
          u32("attention.value_length", 32),
          u32("attention.key_length_mla", 24),
          u32("attention.value_length_mla", 16),
          u32("attention.kv_lora_rank", 32),
          u32("attention.q_lora_rank", 32),
          u32("rope.dimension_count", 16),
          u32("leading_dense_block_count", 1),
          u32("expert_shared_count", 1),
        ]
      : [u32("attention.head_count_kv", 2)]),
  ]
    .filter((e) => !drop.includes(e.key))
    .concat(extra);
  const shapes: Array<[string, number[], number]> = [["token_embd.weight", [h, 96], GGML_TYPE.Q8_0]];
  for (let i = 0; i < layers; i++) {
    shapes.push(
      [`blk.${i}.attn_norm.weight`, [h], GGML_TYPE.F32],
      [`blk.${i}.attn_q.weight`, [h, h], GGML_TYPE.Q8_0],
    );
    if (arch === "deepseek2" && i === 0) {
      shapes.push(
        [`blk.${i}.ffn_gate.weight`, [h, 128], GGML_TYPE.Q8_0],
        [`blk.${i}.ffn_up.weight`, [h, 128], GGML_TYPE.Q8_0],
      );
    } else {
      shapes.push(
        [`blk.${i}.ffn_gate_inp.weight`, [h, experts], GGML_TYPE.F32],
        [`blk.${i}.ffn_gate_exps.weight`, [h, ffnExp, experts], GGML_TYPE.Q8_0],
        [`blk.${i}.ffn_up_exps.weight`, [h, ffnExp, experts], GGML_TYPE.Q8_0],
        [`blk.${i}.ffn_down_exps.weight`, [ffnExp, h, experts], GGML_TYPE.Q4_0],
      );
    }
  }
  shapes.push(["output_norm.weight", [h], GGML_TYPE.F32], ["output.weight", [h, 96], GGML_TYPE.Q8_0]);
  return encodeGgufHeader(
    meta,
    shapes.map(([name, dims, type]) => ({ name, dims, type, offset: 0 })),
  );
}

describe("GGUF mixture of experts", () => {
  const q8 = (n: number) => (n / 32) * 34;
  const q4 = (n: number) => (n / 32) * 18;
  const expertBytes = 2 * q8(64 * 32 * 8) + q4(32 * 64 * 8);

  it("reads expert count, experts per token and expert FFN length; experts' bytes per block", () => {
    const spec = modelSpecFromGguf(parseGguf(moeGguf("qwen3moe")), { source: "m.gguf" });
    expect(spec.moe).toEqual({
      numExperts: 8,
      expertsPerToken: 2,
      expertFfnSize: 32,
      sharedExperts: 0,
      sharedExpertFfnSize: 0,
      denseLayers: [],
    });
    if (spec.weights.kind !== "gguf") throw new Error("expected GGUF weights");
    expect(spec.weights.expertBytes).toEqual([expertBytes, expertBytes, expertBytes]);
    for (const [i, b] of spec.weights.layerBytes.entries()) {
      expect(b).toBeGreaterThan(spec.weights.expertBytes[i] ?? 0);
    }
  });

  it("reads DeepSeek's MLA latent, shared expert and the dense block from its tensors", () => {
    const spec = modelSpecFromGguf(parseGguf(moeGguf("deepseek2")));
    expect(spec.moe).toMatchObject({ denseLayers: [0], sharedExperts: 1, sharedExpertFfnSize: 32 });
    expect(spec.mla).toEqual({
      qLoraRank: 32,
      kvLoraRank: 32,
      qkNopeHeadDim: 8,
      qkRopeHeadDim: 16,
      vHeadDim: 16,
    });
    // llama.cpp caches only the latent and the RoPE key for MLA: key_length elements, no V.
    expect(kvElementsPerTokenPerLayer(spec)).toBe(48);
    if (spec.weights.kind !== "gguf") throw new Error("expected GGUF weights");
    expect(spec.weights.expertBytes).toEqual([0, expertBytes, expertBytes]);
  });

  it.each([
    [
      "expert tensors without expert_count",
      moeGguf("qwen3moe", [], ["qwen3moe.expert_count"]),
      "m.gguf: qwen3moe.expert_count: is missing, and tensor blk.0.ffn_gate_exps.weight needs it",
    ],
    [
      "more experts per token than experts",
      moeGguf(
        "qwen3moe",
        [{ key: "qwen3moe.expert_used_count", type: GGUF_VALUE_TYPE.UINT32, value: 9 }],
        ["qwen3moe.expert_used_count"],
      ),
      "m.gguf: qwen3moe.expert_used_count: 9 exceeds the 8 experts (qwen3moe.expert_count)",
    ],
    [
      "a key the architecture does not model",
      moeGguf("qwen3moe", [
        { key: "qwen3moe.expert_chunk_feed_forward_length", type: GGUF_VALUE_TYPE.UINT32, value: 8 },
      ]),
      'm.gguf: qwen3moe.expert_chunk_feed_forward_length: is not a key Strata models for architecture "qwen3moe"',
    ],
  ])("refuses %s, naming the key", (_what, bytes, message) => {
    expect(() => modelSpecFromGguf(parseGguf(bytes), { source: "m.gguf" })).toThrow(message);
  });

  it("refuses an architecture it does not model", () => {
    const meta: GgufEntry[] = llamaMetadata(HF_CONFIG, "t").map((e) =>
      e.key === "general.architecture"
        ? { key: e.key, type: GGUF_VALUE_TYPE.STRING, value: "phi3" }
        : { ...e, key: e.key.replace(/^llama\./, "phi3.") },
    );
    const header = parseGguf(encodeGgufHeader(meta, llamaTensors(HF_CONFIG, false)));
    expect(() => modelSpecFromGguf(header, { source: "m.gguf" })).toThrow(
      'm.gguf: general.architecture: "phi3" is not an architecture Strata models',
    );
  });
});
