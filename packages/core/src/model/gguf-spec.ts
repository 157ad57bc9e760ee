import { InputError } from "../errors.js";
import type { GgufHeader, GgufValue } from "./gguf.js";
import { type GgufWeights, type ModelSpec, validateModelShape } from "./model-spec.js";

export interface GgufSpecOptions {
  /** The model's name in plans; default `general.name`, else "model". */
  readonly name?: string;
  /** How errors name the input, e.g. the file path. Default "gguf". */
  readonly source?: string;
}

const BLOCK_TENSOR = /^blk\.(\d+)\./;

/**
 * A ModelSpec from a parsed GGUF header: the shape from the `<arch>.*` metadata
 * keys (llama.cpp's names, see llama.cpp src/llama-arch.cpp), the weight bytes
 * from the actual tensor types and shapes.
 * @throws InputError naming the missing or bad key
 */
export function modelSpecFromGguf(header: GgufHeader, options: GgufSpecOptions = {}): ModelSpec {
  const source = options.source ?? "gguf";
  const meta = header.metadata;
  const arch = meta.get("general.architecture");
  if (typeof arch !== "string" || arch === "") {
    throw new InputError(`${source}: general.architecture`, "is missing");
  }
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
  const numKvHeads = int("attention.head_count_kv", () => numHeads);
  const headDim = int("attention.key_length", () => Math.floor(hiddenSize / numHeads));
  const ffnSize = int("feed_forward_length");
  const vocabSize = int("vocab_size", () => {
    const tokens = meta.get("tokenizer.ggml.tokens");
    if (Array.isArray(tokens)) return tokens.length;
    return tensorByName.get("token_embd.weight")?.dims[1];
  });
  const contextLength = meta.get(`${arch}.context_length`);
  const nameValue = meta.get("general.name");
  const name = options.name ?? (typeof nameValue === "string" && nameValue !== "" ? nameValue : "model");

  const spec: ModelSpec = {
    name,
    numLayers,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    ffnSize,
    vocabSize,
    tiedEmbeddings: !tensorByName.has("output.weight"),
    ...(typeof contextLength === "number" && contextLength > 0
      ? { maxPositionEmbeddings: contextLength }
      : {}),
    weights: ggufWeights(header, numLayers, source),
  };
  validateModelShape(spec, source);
  return spec;
}

function ggufWeights(header: GgufHeader, numLayers: number, source: string): GgufWeights {
  const layerBytes = new Array<number>(numLayers).fill(0);
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
  return { kind: "gguf", embeddingBytes, headBytes, layerBytes, otherBytes, mainType };
}
