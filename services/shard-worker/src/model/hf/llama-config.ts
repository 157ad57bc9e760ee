import type { GgufHeader } from "@strata/core";
import { GgufMeta, GgufMetadataError, shortestFloat32 } from "./gguf-meta.js";

/**
 * The Hugging Face `config.json` and `generation_config.json` of a
 * llama-architecture GGUF, from llama.cpp's metadata keys (names in llama.cpp
 * src/llama-arch.cpp; defaults as llama.cpp applies them in src/llama-model.cpp:
 * rope base 10000, KV heads = heads, rope dimensions = head size).
 * Field names follow transformers' LlamaConfig.
 */

/** The shape a converted llama model has, read once from the header. */
export interface LlamaShape {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly contextLength: number;
  readonly rmsEps: number;
  readonly ropeTheta: number;
  readonly tiedEmbeddings: boolean;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly padTokenId?: number;
}

/** Default `llama.rope.freq_base` (llama.cpp's when the key is absent). */
export const LLAMA_DEFAULT_ROPE_THETA = 10_000;

/**
 * @throws GgufMetadataError naming the missing or unsupported key
 */
export function llamaShapeFromGguf(header: GgufHeader): LlamaShape {
  const meta = new GgufMeta(header);
  const arch = meta.string("general.architecture");
  if (arch !== "llama") {
    throw new GgufMetadataError(
      "general.architecture",
      `is "${arch}"; only "llama" converts to Hugging Face here`,
    );
  }
  const hidden = meta.int("llama.embedding_length");
  const heads = meta.int("llama.attention.head_count");
  const kvHeads = meta.int("llama.attention.head_count_kv", heads);
  const headDim = meta.int("llama.attention.key_length", hidden / heads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new GgufMetadataError(
      "llama.attention.head_count",
      `${heads} heads do not split ${hidden} into even head sizes`,
    );
  }
  const ropeDims = meta.int("llama.rope.dimension_count", headDim);
  if (ropeDims !== headDim) {
    throw new GgufMetadataError(
      "llama.rope.dimension_count",
      `is ${ropeDims}; partial rotary (≠ head size ${headDim}) is not supported`,
    );
  }
  const scaling = meta.optionalString("llama.rope.scaling.type");
  if (scaling !== undefined && scaling !== "none") {
    throw new GgufMetadataError(
      "llama.rope.scaling.type",
      `rope scaling "${scaling}" is not supported by the converter`,
    );
  }
  const tokens = meta.get("tokenizer.ggml.tokens");
  const tokenCount = Array.isArray(tokens) ? tokens.length : undefined;
  const embedding = header.tensors.find((t) => t.name === "token_embd.weight");
  const vocab = meta.int("llama.vocab_size", tokenCount ?? embedding?.dims[1] ?? 0);
  if (vocab === 0)
    throw new GgufMetadataError("llama.vocab_size", "is missing and there is no vocabulary to count");
  const bos = meta.optionalInt("tokenizer.ggml.bos_token_id");
  const eos = meta.optionalInt("tokenizer.ggml.eos_token_id");
  const pad = meta.optionalInt("tokenizer.ggml.padding_token_id");
  return {
    layers: meta.int("llama.block_count"),
    hidden,
    heads,
    kvHeads,
    headDim,
    ffn: meta.int("llama.feed_forward_length"),
    vocab,
    contextLength: meta.int("llama.context_length"),
    rmsEps: shortestFloat32(meta.float("llama.attention.layer_norm_rms_epsilon")),
    ropeTheta: shortestFloat32(meta.float("llama.rope.freq_base", LLAMA_DEFAULT_ROPE_THETA)),
    tiedEmbeddings: !header.tensors.some((t) => t.name === "output.weight"),
    ...(bos !== undefined ? { bosTokenId: bos } : {}),
    ...(eos !== undefined ? { eosTokenId: eos } : {}),
    ...(pad !== undefined ? { padTokenId: pad } : {}),
  };
}

/**
 * `config.json` for transformers' and vLLM's LlamaForCausalLM. The rope base is
 * written both as transformers 5's `rope_parameters` and the older top-level
 * `rope_theta`, so readers of either generation see the same value.
 */
export function llamaHfConfig(shape: LlamaShape, dtype: string): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: shape.hidden,
    intermediate_size: shape.ffn,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    head_dim: shape.headDim,
    vocab_size: shape.vocab,
    max_position_embeddings: shape.contextLength,
    rms_norm_eps: shape.rmsEps,
    rope_theta: shape.ropeTheta,
    rope_parameters: { rope_type: "default", rope_theta: shape.ropeTheta },
    hidden_act: "silu",
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    pretraining_tp: 1,
    initializer_range: 0.02,
    tie_word_embeddings: shape.tiedEmbeddings,
    use_cache: true,
    dtype,
    torch_dtype: dtype,
    ...(shape.bosTokenId !== undefined ? { bos_token_id: shape.bosTokenId } : {}),
    ...(shape.eosTokenId !== undefined ? { eos_token_id: shape.eosTokenId } : {}),
    ...(shape.padTokenId !== undefined ? { pad_token_id: shape.padTokenId } : {}),
  };
}

/** `generation_config.json`: the special token ids only (no sampling defaults). */
export function llamaGenerationConfig(shape: LlamaShape): Record<string, unknown> {
  return {
    _from_model_config: true,
    ...(shape.bosTokenId !== undefined ? { bos_token_id: shape.bosTokenId } : {}),
    ...(shape.eosTokenId !== undefined ? { eos_token_id: shape.eosTokenId } : {}),
    ...(shape.padTokenId !== undefined ? { pad_token_id: shape.padTokenId } : {}),
  };
}
