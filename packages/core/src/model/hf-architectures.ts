import type { FieldList } from "./hf-fields.js";

/**
 * The config.json fields of every architecture the loader supports: the ones it
 * reads into a model's shape, and the ones it knows do not change weights, KV
 * cache or compute. A field on neither list makes the loader refuse the file
 * (hf-fields.ts), so a new expert or attention field is never planned as if it
 * were absent. The lists follow the published configs in hf-configs/ (see
 * hf-configs/SOURCES.md) and Hugging Face transformers' configuration classes.
 */

/** Fields every architecture has that only describe the checkpoint or the library. */
const METADATA = [
  "architectures",
  "model_type",
  "_name_or_path",
  "transformers_version",
  "auto_map",
  "use_cache",
  "_attn_implementation_autoset",
] as const;

/** Token ids, initialisation, norm epsilon, RoPE constants, dropout: no bytes, no FLOPs. */
const NUMERICS = [
  "bos_token_id",
  "eos_token_id",
  "pad_token_id",
  "initializer_range",
  "rms_norm_eps",
  "rope_theta",
  "rope_scaling",
  "rope_parameters",
  "attention_dropout",
  // Every supported architecture uses a gated MLP; the activation inside it adds no weights.
  "hidden_act",
  // Meta's tensor-parallel pretraining setting; 1 in every published config, no effect on inference.
  "pretraining_tp",
] as const;

/** Router settings: how experts are chosen and weighted, not how many or how big. */
const ROUTING = [
  "output_router_logits",
  "router_aux_loss_coef",
  "router_jitter_noise",
  "norm_topk_prob",
] as const;

/** Read by every architecture: the default precision (torch_dtype/dtype) and a shipped quantization. */
const CHECKPOINT = ["torch_dtype", "dtype", "quantization_config"] as const;

/** Shape fields of a llama-style decoder. */
const DECODER = [
  "num_hidden_layers",
  "hidden_size",
  "num_attention_heads",
  "num_key_value_heads",
  "head_dim",
  "intermediate_size",
  "vocab_size",
  "tie_word_embeddings",
  "max_position_embeddings",
  "attention_bias",
  "mlp_bias",
] as const;

/**
 * Windowed attention: read, and budgeted as full attention (every layer caches
 * every token), which over- rather than under-counts the KV cache.
 */
const SLIDING_WINDOW = ["sliding_window", "use_sliding_window", "max_window_layers", "layer_types"] as const;

const LLAMA: FieldList = {
  modelType: "llama",
  reads: [...DECODER, ...CHECKPOINT],
  // SmolLM2 and other nanotron exports add is_llama_config and rope_interleaved.
  harmless: [...METADATA, ...NUMERICS, "is_llama_config", "rope_interleaved"],
};

const MISTRAL: FieldList = {
  modelType: "mistral",
  reads: [...DECODER, ...CHECKPOINT, ...SLIDING_WINDOW],
  harmless: [...METADATA, ...NUMERICS],
};

const QWEN2: FieldList = {
  modelType: "qwen2",
  reads: [...DECODER, ...CHECKPOINT, ...SLIDING_WINDOW],
  harmless: [...METADATA, ...NUMERICS],
};

const QWEN3: FieldList = {
  modelType: "qwen3",
  reads: [...DECODER, ...CHECKPOINT, ...SLIDING_WINDOW],
  harmless: [...METADATA, ...NUMERICS],
};

const MIXTRAL: FieldList = {
  modelType: "mixtral",
  reads: [...DECODER, ...CHECKPOINT, ...SLIDING_WINDOW, "num_local_experts", "num_experts_per_tok"],
  harmless: [...METADATA, ...NUMERICS, ...ROUTING],
};

const QWEN3_MOE: FieldList = {
  modelType: "qwen3_moe",
  reads: [
    ...DECODER,
    ...CHECKPOINT,
    ...SLIDING_WINDOW,
    "num_experts",
    "num_experts_per_tok",
    "moe_intermediate_size",
    "decoder_sparse_step",
    "mlp_only_layers",
  ],
  harmless: [...METADATA, ...NUMERICS, ...ROUTING],
};

/** DeepSeek-V3 and the models built on its code (Kimi K2): MLA attention, shared and routed experts. */
const DEEPSEEK_V3_READS = [
  ...DECODER,
  ...CHECKPOINT,
  "q_lora_rank",
  "kv_lora_rank",
  "qk_nope_head_dim",
  "qk_rope_head_dim",
  "v_head_dim",
  "n_routed_experts",
  "n_shared_experts",
  "num_experts_per_tok",
  "moe_intermediate_size",
  "first_k_dense_replace",
  "moe_layer_freq",
] as const;

const DEEPSEEK_V3_HARMLESS = [
  ...METADATA,
  ...NUMERICS,
  ...ROUTING,
  // Group-limited routing and its scaling (https://arxiv.org/abs/2412.19437, section 2.1.2).
  "n_group",
  "topk_group",
  "topk_method",
  "scoring_func",
  "routed_scaling_factor",
  // Training-time settings: the auxiliary balance loss and the expert-parallel size it was trained with.
  "aux_loss_alpha",
  "seq_aux",
  "ep_size",
  "rope_interleave",
  // The multi-token-prediction module: vLLM loads it only for speculative decoding
  // (--speculative-config), and plain serving skips its weights.
  "num_nextn_predict_layers",
] as const;

const DEEPSEEK_V3: FieldList = {
  modelType: "deepseek_v3",
  reads: DEEPSEEK_V3_READS,
  harmless: DEEPSEEK_V3_HARMLESS,
};

const KIMI_K2: FieldList = { ...DEEPSEEK_V3, modelType: "kimi_k2" };

const GPT_OSS: FieldList = {
  modelType: "gpt_oss",
  reads: [
    ...DECODER,
    ...CHECKPOINT,
    ...SLIDING_WINDOW,
    "num_local_experts",
    "num_experts_per_tok",
    "experts_per_token",
  ],
  harmless: [
    ...METADATA,
    ...NUMERICS,
    ...ROUTING,
    // The pre-training context length before YaRN; max_position_embeddings is the served one.
    "initial_context_length",
    // A clamp inside the expert activation.
    "swiglu_limit",
  ],
};

/** Llama 4's language model (`text_config`, or a text-only Llama4ForCausalLM checkpoint). */
const LLAMA4_TEXT: FieldList = {
  modelType: "llama4_text",
  reads: [
    ...DECODER,
    ...CHECKPOINT,
    "intermediate_size_mlp",
    "num_local_experts",
    "num_experts_per_tok",
    "interleave_moe_layer_step",
    "moe_layers",
    // Chunked local attention on three of four layers: budgeted as full attention.
    "attention_chunk_size",
  ],
  harmless: [
    ...METADATA,
    ...NUMERICS,
    ...ROUTING,
    // Which layers skip RoPE, and the attention temperature tuning: no weights.
    "no_rope_layers",
    "no_rope_layer_interval",
    "attn_temperature_tuning",
    "attn_scale",
    "floor_scale",
    // Llama 4's QK norm is an L2 norm without weights.
    "use_qk_norm",
    "for_llm_compressor",
    "cache_implementation",
  ],
};

/** Llama 4's vision encoder, counted as extra parameters on the first stage. */
const LLAMA4_VISION: FieldList = {
  modelType: "llama4_vision_model",
  reads: [
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "image_size",
    "patch_size",
    "num_channels",
    "projector_input_dim",
    "projector_output_dim",
    "vision_output_dim",
    "multi_modal_projector_bias",
  ],
  harmless: [
    ...METADATA,
    ...NUMERICS,
    "torch_dtype",
    "num_attention_heads",
    "norm_eps",
    "pixel_shuffle_ratio",
    "projector_dropout",
    "vision_feature_layer",
    "vision_feature_select_strategy",
  ],
};

/** The multimodal wrapper (Llama4ForConditionalGeneration). */
const LLAMA4: FieldList = {
  modelType: "llama4",
  reads: [
    "text_config",
    "vision_config",
    "tie_word_embeddings",
    "torch_dtype",
    "dtype",
    "quantization_config",
  ],
  harmless: [...METADATA, "boi_token_index", "eoi_token_index", "image_token_index"],
};

/** Field lists by the `model_type` of the top-level config. */
export const HF_ARCHITECTURES: ReadonlyMap<string, FieldList> = new Map(
  [LLAMA, MISTRAL, QWEN2, QWEN3, MIXTRAL, QWEN3_MOE, DEEPSEEK_V3, KIMI_K2, GPT_OSS, LLAMA4, LLAMA4_TEXT].map(
    (a) => [a.modelType, a],
  ),
);

/** Field lists of nested configs, by their own `model_type`. */
export const HF_NESTED_ARCHITECTURES: ReadonlyMap<string, FieldList> = new Map(
  [LLAMA4_TEXT, LLAMA4_VISION].map((a) => [a.modelType, a]),
);
