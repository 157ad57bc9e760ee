import { InputError } from "../errors.js";
import type { ModelSpec } from "./model-spec.js";

/**
 * Built-in models with the numbers from their published config.json files.
 * Sources (Hugging Face model repositories, file config.json):
 * - https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json
 * - https://huggingface.co/meta-llama/Llama-3.1-70B/blob/main/config.json
 * - https://huggingface.co/meta-llama/Llama-3.1-405B/blob/main/config.json
 * - https://huggingface.co/meta-llama/Llama-3.3-70B-Instruct/blob/main/config.json
 * All four: vocab_size 128256, num_key_value_heads 8, head_dim 128,
 * tie_word_embeddings false, max_position_embeddings 131072.
 * The mixture-of-experts entries name their config below; copies of those
 * files are in hf-configs/ (SOURCES.md says where each was read), and
 * catalog.test.ts checks every entry against its copy.
 */
const LLAMA3_COMMON = {
  numKvHeads: 8,
  headDim: 128,
  vocabSize: 128256,
  tiedEmbeddings: false,
  maxPositionEmbeddings: 131072,
  weights: { kind: "dtype", checkpointDtype: "bf16" },
} as const;

/** Layer indices 0..n-1 that satisfy `keep`. */
function layersWhere(n: number, keep: (i: number) => boolean): number[] {
  return Array.from({ length: n }, (_, i) => i).filter(keep);
}

/**
 * DeepSeek-V3 (https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json):
 * 61 layers, the first 3 dense (first_k_dense_replace), 256 routed experts of
 * 2048 with 8 per token and one shared expert, MLA with q_lora_rank 1536,
 * kv_lora_rank 512, qk_nope/rope 128/64, v_head_dim 128; weights shipped in fp8.
 * DeepSeek-R1 (https://huggingface.co/deepseek-ai/DeepSeek-R1/blob/main/config.json)
 * has the same shape.
 */
const DEEPSEEK_V3_SHAPE = {
  numLayers: 61,
  hiddenSize: 7168,
  numHeads: 128,
  numKvHeads: 128,
  headDim: 192,
  valueHeadDim: 128,
  ffnSize: 18432,
  vocabSize: 129280,
  tiedEmbeddings: false,
  maxPositionEmbeddings: 163840,
  mla: { qLoraRank: 1536, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 },
  moe: {
    numExperts: 256,
    expertsPerToken: 8,
    expertFfnSize: 2048,
    sharedExperts: 1,
    sharedExpertFfnSize: 2048,
    denseLayers: [0, 1, 2],
  },
  weights: { kind: "dtype", checkpointDtype: "fp8" },
} as const;

export const MODEL_CATALOG: readonly ModelSpec[] = [
  { name: "llama-3.1-8b", numLayers: 32, hiddenSize: 4096, numHeads: 32, ffnSize: 14336, ...LLAMA3_COMMON },
  { name: "llama-3.1-70b", numLayers: 80, hiddenSize: 8192, numHeads: 64, ffnSize: 28672, ...LLAMA3_COMMON },
  {
    name: "llama-3.1-405b",
    numLayers: 126,
    hiddenSize: 16384,
    numHeads: 128,
    ffnSize: 53248,
    ...LLAMA3_COMMON,
  },
  { name: "llama-3.3-70b", numLayers: 80, hiddenSize: 8192, numHeads: 64, ffnSize: 28672, ...LLAMA3_COMMON },
  // https://huggingface.co/mistralai/Mixtral-8x7B-v0.1/blob/main/config.json: 8 experts of 14336, 2 per token.
  {
    name: "mixtral-8x7b",
    numLayers: 32,
    hiddenSize: 4096,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 128,
    ffnSize: 14336,
    vocabSize: 32000,
    tiedEmbeddings: false,
    maxPositionEmbeddings: 32768,
    moe: {
      numExperts: 8,
      expertsPerToken: 2,
      expertFfnSize: 14336,
      sharedExperts: 0,
      sharedExpertFfnSize: 0,
      denseLayers: [],
    },
    weights: { kind: "dtype", checkpointDtype: "bf16" },
  },
  // https://huggingface.co/Qwen/Qwen3-235B-A22B/blob/main/config.json: 94 layers, 128 experts of 1536, 8 per token.
  {
    name: "qwen3-235b-a22b",
    numLayers: 94,
    hiddenSize: 4096,
    numHeads: 64,
    numKvHeads: 4,
    headDim: 128,
    ffnSize: 12288,
    vocabSize: 151936,
    tiedEmbeddings: false,
    maxPositionEmbeddings: 40960,
    moe: {
      numExperts: 128,
      expertsPerToken: 8,
      expertFfnSize: 1536,
      sharedExperts: 0,
      sharedExpertFfnSize: 0,
      denseLayers: [],
    },
    weights: { kind: "dtype", checkpointDtype: "bf16" },
  },
  { name: "deepseek-v3", ...DEEPSEEK_V3_SHAPE },
  { name: "deepseek-r1", ...DEEPSEEK_V3_SHAPE },
  // https://huggingface.co/openai/gpt-oss-120b/blob/main/config.json: 36 layers, 128 experts of 2880,
  // 4 per token, biased attention, experts shipped in MXFP4.
  {
    name: "gpt-oss-120b",
    numLayers: 36,
    hiddenSize: 2880,
    numHeads: 64,
    numKvHeads: 8,
    headDim: 64,
    ffnSize: 2880,
    vocabSize: 201088,
    tiedEmbeddings: false,
    maxPositionEmbeddings: 131072,
    attentionBias: true,
    moe: {
      numExperts: 128,
      expertsPerToken: 4,
      expertFfnSize: 2880,
      sharedExperts: 0,
      sharedExpertFfnSize: 0,
      denseLayers: [],
    },
    weights: { kind: "dtype", checkpointDtype: "mxfp4" },
  },
  // https://huggingface.co/meta-llama/Llama-4-Maverick-17B-128E-Instruct/blob/main/config.json
  // (text_config): 48 layers alternating dense (intermediate_size_mlp 16384) and MoE
  // (interleave_moe_layer_step 2: 128 experts of 8192, 1 per token, one shared expert).
  // The vision encoder of the multimodal checkpoint is not in the catalog entry
  // (a config.json with vision_config counts it).
  {
    name: "llama-4-maverick",
    numLayers: 48,
    hiddenSize: 5120,
    numHeads: 40,
    numKvHeads: 8,
    headDim: 128,
    ffnSize: 16384,
    vocabSize: 202048,
    tiedEmbeddings: false,
    maxPositionEmbeddings: 1048576,
    moe: {
      numExperts: 128,
      expertsPerToken: 1,
      expertFfnSize: 8192,
      sharedExperts: 1,
      sharedExpertFfnSize: 8192,
      denseLayers: layersWhere(48, (i) => (i + 1) % 2 !== 0),
    },
    weights: { kind: "dtype", checkpointDtype: "bf16" },
  },
  // SmolLM2-135M-Instruct: https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/blob/main/config.json
  // (hidden 576, intermediate 1536, 30 layers, 9 heads, 3 KV heads, vocab 49152, 8192 positions, tied
  // embeddings); the same numbers are in the header of the GGUF that `strata model pull smollm2-135m`
  // fetches (llama.embedding_length 576, llama.block_count 30, llama.context_length 8192, no output.weight).
  {
    name: "smollm2-135m",
    numLayers: 30,
    hiddenSize: 576,
    numHeads: 9,
    numKvHeads: 3,
    headDim: 64,
    ffnSize: 1536,
    vocabSize: 49152,
    tiedEmbeddings: true,
    maxPositionEmbeddings: 8192,
    weights: { kind: "dtype" },
  },
];

/** Hugging Face ids (lower-cased, organisation removed) that name a catalog entry differently. */
const ALIASES: Readonly<Record<string, string>> = {
  "llama-4-maverick-17b-128e": "llama-4-maverick",
  "mixtral-8x7b-v0.1": "mixtral-8x7b",
  "mixtral-8x7b-instruct-v0.1": "mixtral-8x7b",
};

/**
 * A catalog model by name, case-insensitive; the Hugging Face id
 * (`meta-llama/Llama-3.1-405B-Instruct`, `deepseek-ai/DeepSeek-V3`) works too,
 * since instruct variants share the base model's shape.
 * @throws InputError("--model") naming the known models
 */
export function findModel(name: string): ModelSpec {
  const id = name
    .trim()
    .toLowerCase()
    .replace(/^[^/]+\//, "")
    .replace(/^meta-/, "");
  const key = ALIASES[id] ?? id.replace(/-instruct$/, "");
  const spec = MODEL_CATALOG.find((m) => m.name === (ALIASES[key] ?? key));
  if (!spec) {
    throw new InputError(
      "--model",
      `unknown model "${name}"; known: ${MODEL_CATALOG.map((m) => m.name).join(", ")}, or a path to a config.json or .gguf file`,
    );
  }
  return spec;
}
