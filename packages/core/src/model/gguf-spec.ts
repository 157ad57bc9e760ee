import { InputError } from "../errors.js";
import type { GgufHeader, GgufValue } from "./gguf.js";
import {
  type GgufWeights,
  type MlaShape,
  type ModelShape,
  type ModelSpec,
  type MoeShape,
  validateModelShape,
} from "./model-spec.js";

export interface GgufSpecOptions {
  /** The model's name in plans; default `general.name`, else "model". */
  readonly name?: string;
  /** How errors name the input, e.g. the file path. Default "gguf". */
  readonly source?: string;
}

const BLOCK_TENSOR = /^blk\.(\d+)\./;
/** Routed-expert tensors as llama.cpp names them: ffn_{gate,up,down,gate_up}_exps. */
const EXPERT_TENSOR = /^blk\.(\d+)\.ffn_[a-z_]*exps\./;

/**
 * The `<arch>.*` metadata keys of each supported architecture (llama.cpp's names,
 * src/llama-arch.cpp), split like the config.json lists in hf-architectures.ts:
 * keys read into the shape, and keys known not to change weights, KV cache or
 * compute. Any other `<arch>.*` key is refused; `general.*` and `tokenizer.*`
 * describe the file, not the model's shape.
 */
const GGUF_READS = [
  "context_length",
  "embedding_length",
  "block_count",
  "feed_forward_length",
  "attention.head_count",
  "attention.head_count_kv",
  "attention.key_length",
  "attention.value_length",
  "vocab_size",
  "expert_count",
  "expert_used_count",
  "expert_feed_forward_length",
] as const;
const GGUF_HARMLESS = [
  "rope.",
  "attention.layer_norm_rms_epsilon",
  "attention.layer_norm_epsilon",
  "attention.causal",
  "attention.scale",
  "attention.temperature_scale",
  "attention.temperature_length",
  "expert_weights_scale",
  "expert_weights_norm",
  "expert_gating_func",
  "expert_group_count",
  "expert_group_used_count",
  "logit_scale",
] as const;
/** Windowed or chunked attention, budgeted as full attention (conservative). */
const GGUF_WINDOW = ["attention.sliding_window", "attention.sliding_window_pattern"] as const;

const GGUF_ARCHITECTURES: ReadonlyMap<string, readonly string[]> = new Map([
  // Mistral and Mixtral convert to "llama" (Mixtral with expert_count).
  ["llama", [...GGUF_READS, ...GGUF_HARMLESS]],
  ["qwen2", [...GGUF_READS, ...GGUF_HARMLESS, ...GGUF_WINDOW]],
  ["qwen3", [...GGUF_READS, ...GGUF_HARMLESS, ...GGUF_WINDOW]],
  ["qwen3moe", [...GGUF_READS, ...GGUF_HARMLESS, ...GGUF_WINDOW]],
  [
    "deepseek2",
    [
      ...GGUF_READS,
      ...GGUF_HARMLESS,
      "leading_dense_block_count",
      "expert_shared_count",
      "attention.q_lora_rank",
      "attention.kv_lora_rank",
      "attention.key_length_mla",
      "attention.value_length_mla",
      // Multi-token-prediction blocks, when the file has them, are ordinary blk.N tensors and counted.
      "nextn_predict_layers",
    ],
  ],
  ["gpt-oss", [...GGUF_READS, ...GGUF_HARMLESS, ...GGUF_WINDOW]],
  ["llama4", [...GGUF_READS, ...GGUF_HARMLESS, ...GGUF_WINDOW, "interleave_moe_layer_step"]],
]);

/**
 * A ModelSpec from a parsed GGUF header: the shape from the `<arch>.*` metadata
 * keys (llama.cpp's names, see llama.cpp src/llama-arch.cpp), the weight bytes
 * from the actual tensor types and shapes. Mixture-of-experts files give the
 * expert count, experts per token and expert FFN length; which blocks have
 * experts follows from their tensors. MLA files (deepseek2 with key_length_mla)
 * cache only the latent, as llama.cpp does (src/llama-kv-cache.cpp: no V cache
 * when `is_mla`).
 * @throws InputError naming the missing, bad or unknown key
 */
export function modelSpecFromGguf(header: GgufHeader, options: GgufSpecOptions = {}): ModelSpec {
  const source = options.source ?? "gguf";
  const meta = header.metadata;
  const arch = meta.get("general.architecture");
  if (typeof arch !== "string" || arch === "") {
    throw new InputError(`${source}: general.architecture`, "is missing");
  }
  const known = GGUF_ARCHITECTURES.get(arch);
  if (!known) {
    throw new InputError(
      `${source}: general.architecture`,
      `"${arch}" is not an architecture Strata models; supported: ${[...GGUF_ARCHITECTURES.keys()].join(", ")}`,
    );
  }
  for (const key of meta.keys()) {
    if (!key.startsWith(`${arch}.`)) continue;
    const rest = key.slice(arch.length + 1);
    if (!known.some((k) => (k.endsWith(".") ? rest.startsWith(k) : rest === k))) {
      throw new InputError(
        `${source}: ${key}`,
        `is not a key Strata models for architecture "${arch}"; refusing to plan without understanding it`,
      );
    }
  }
  const has = (key: string) => meta.get(`${arch}.${key}`) !== undefined;
  const int = (key: string, fallback?: () => number | undefined): number => {
    const v: GgufValue | undefined = meta.get(`${arch}.${key}`);
    if (v === undefined) {
      const f = fallback?.();
      if (f !== undefined) return f;
      throw new InputError(`${source}: ${arch}.${key}`, "is missing");
    }
    // Some architectures give per-layer values (e.g. KV heads of sliding-window
    // layers); the largest one stands for all, which over- rather than under-counts memory.
    const values = Array.isArray(v) ? v : [v];
    if (
      values.length === 0 ||
      !values.every((x) => typeof x === "number" && Number.isSafeInteger(x) && x > 0)
    ) {
      const shown = String(v).slice(0, 40);
      throw new InputError(`${source}: ${arch}.${key}`, `must be a positive integer, got ${shown}`);
    }
    return Math.max(...(values as number[]));
  };

  const tensorByName = new Map(header.tensors.map((t) => [t.name, t]));
  const numLayers = int("block_count");
  const hiddenSize = int("embedding_length");
  const numHeads = int("attention.head_count");
  const keyLength = int("attention.key_length", () => Math.floor(hiddenSize / numHeads));
  const valueLength = int("attention.value_length", () => keyLength);
  const moe = ggufExperts(header, arch, numLayers, source, int, has);
  const ffnSize = int("feed_forward_length", () => moe?.expertFfnSize);
  const vocabSize = int("vocab_size", () => {
    const tokens = meta.get("tokenizer.ggml.tokens");
    if (Array.isArray(tokens)) return tokens.length;
    return tensorByName.get("token_embd.weight")?.dims[1];
  });
  const contextLength = meta.get(`${arch}.context_length`);
  const nameValue = meta.get("general.name");
  const name = options.name ?? (typeof nameValue === "string" && nameValue !== "" ? nameValue : "model");
  const attention = has("attention.key_length_mla")
    ? ggufMla(int, numHeads, keyLength)
    : {
        numKvHeads: int("attention.head_count_kv", () => numHeads),
        headDim: keyLength,
        ...(valueLength !== keyLength ? { valueHeadDim: valueLength } : {}),
      };

  const spec: ModelSpec = {
    name,
    numLayers,
    hiddenSize,
    numHeads,
    ...attention,
    ffnSize,
    vocabSize,
    tiedEmbeddings: !tensorByName.has("output.weight"),
    ...(typeof contextLength === "number" && contextLength > 0
      ? { maxPositionEmbeddings: contextLength }
      : {}),
    ...(moe ? { moe } : {}),
    weights: ggufWeights(header, numLayers, source),
  };
  validateModelShape(spec, source);
  return spec;
}

type IntReader = (key: string, fallback?: () => number | undefined) => number;

/**
 * MLA in a GGUF (llama.cpp's deepseek2 conversion): key_length is the cached
 * latent plus the RoPE key (kv_lora_rank + rope dimension), key_length_mla and
 * value_length_mla the per-head sizes the latent expands to.
 */
function ggufMla(
  int: IntReader,
  numHeads: number,
  keyLength: number,
): Pick<ModelShape, "numKvHeads" | "headDim" | "valueHeadDim" | "mla"> {
  const kvLoraRank = int("attention.kv_lora_rank");
  const qkRopeHeadDim = int("rope.dimension_count", () => keyLength - kvLoraRank);
  const qkHead = int("attention.key_length_mla");
  const mla: MlaShape = {
    qLoraRank: int("attention.q_lora_rank", () => 0),
    kvLoraRank,
    qkNopeHeadDim: qkHead - qkRopeHeadDim,
    qkRopeHeadDim,
    vHeadDim: int("attention.value_length_mla"),
  };
  return { numKvHeads: numHeads, headDim: qkHead, valueHeadDim: mla.vHeadDim, mla };
}

/**
 * The experts of a GGUF: counts from the metadata, which blocks have them from
 * the tensors. Expert tensors without expert_count, or more experts per token
 * than experts, are refused.
 */
function ggufExperts(
  header: GgufHeader,
  arch: string,
  numLayers: number,
  source: string,
  int: IntReader,
  has: (key: string) => boolean,
): MoeShape | undefined {
  const withExperts = new Set<number>();
  let example = "";
  for (const t of header.tensors) {
    const m = EXPERT_TENSOR.exec(t.name);
    if (!m) continue;
    withExperts.add(Number(m[1]));
    example ||= t.name;
  }
  if (!has("expert_count") || header.metadata.get(`${arch}.expert_count`) === 0) {
    if (example) {
      throw new InputError(`${source}: ${arch}.expert_count`, `is missing, and tensor ${example} needs it`);
    }
    return undefined;
  }
  const numExperts = int("expert_count");
  if (withExperts.size === 0) {
    throw new InputError(
      `${source}: ${arch}.expert_count`,
      `is ${numExperts}, but no block has expert tensors`,
    );
  }
  const expertsPerToken = int("expert_used_count");
  if (expertsPerToken > numExperts) {
    throw new InputError(
      `${source}: ${arch}.expert_used_count`,
      `${expertsPerToken} exceeds the ${numExperts} experts (${arch}.expert_count)`,
    );
  }
  const expertFfnSize = int("expert_feed_forward_length", () =>
    has("feed_forward_length") ? int("feed_forward_length") : undefined,
  );
  // Llama 4 has one shared expert of the routed experts' size and no key for it.
  const sharedExperts = int("expert_shared_count", () => (arch === "llama4" ? 1 : 0));
  return {
    numExperts,
    expertsPerToken,
    expertFfnSize,
    sharedExperts,
    sharedExpertFfnSize: sharedExperts > 0 ? expertFfnSize : 0,
    denseLayers: Array.from({ length: numLayers }, (_, i) => i).filter((i) => !withExperts.has(i)),
  };
}

function ggufWeights(header: GgufHeader, numLayers: number, source: string): GgufWeights {
  const layerBytes = new Array<number>(numLayers).fill(0);
  const expertBytes = new Array<number>(numLayers).fill(0);
  let embeddingBytes = 0;
  let headBytes = 0;
  let otherBytes = 0;
  const bytesByType = new Map<string, number>();
  for (const t of header.tensors) {
    bytesByType.set(t.type.name, (bytesByType.get(t.type.name) ?? 0) + t.bytes);
    const block = BLOCK_TENSOR.exec(t.name);
    if (block) {
      const index = Number(block[1]);
      if (index >= numLayers) {
        throw new InputError(source, `tensor ${t.name} is beyond block_count ${numLayers}`);
      }
      layerBytes[index] = (layerBytes[index] ?? 0) + t.bytes;
      if (EXPERT_TENSOR.test(t.name)) expertBytes[index] = (expertBytes[index] ?? 0) + t.bytes;
    } else if (t.name === "token_embd.weight") {
      embeddingBytes += t.bytes;
    } else if (t.name.startsWith("output.") || t.name.startsWith("output_norm.")) {
      headBytes += t.bytes;
    } else {
      otherBytes += t.bytes;
    }
  }
  if (embeddingBytes === 0) throw new InputError(source, "has no token_embd.weight tensor");
  let mainType = "";
  let mainBytes = -1;
  for (const [type, bytes] of bytesByType) {
    if (bytes > mainBytes) [mainType, mainBytes] = [type, bytes];
  }
  return { kind: "gguf", embeddingBytes, headBytes, layerBytes, expertBytes, otherBytes, mainType };
}
