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
 */
const LLAMA3_COMMON = {
  numKvHeads: 8,
  headDim: 128,
  vocabSize: 128256,
  tiedEmbeddings: false,
  maxPositionEmbeddings: 131072,
  weights: { kind: "dtype" },
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

/**
 * A catalog model by name, case-insensitive; the Hugging Face id
 * (`meta-llama/Llama-3.1-405B-Instruct`) works too, since instruct variants
 * share the base model's shape.
 * @throws InputError("--model") naming the known models
 */
export function findModel(name: string): ModelSpec {
  const key = name
    .trim()
    .toLowerCase()
    .replace(/^meta-llama\//, "")
    .replace(/^meta-/, "")
    .replace(/-instruct$/, "");
  const spec = MODEL_CATALOG.find((m) => m.name === key);
  if (!spec) {
    throw new InputError(
      "--model",
      `unknown model "${name}"; known: ${MODEL_CATALOG.map((m) => m.name).join(", ")}, or a path to a config.json or .gguf file`,
    );
  }
  return spec;
}
