import { InputError } from "../errors.js";

/**
 * The architecture of a decoder-only transformer, as much of it as placement
 * needs. The same model loads into the same shape from the catalog, a Hugging
 * Face config.json or a GGUF header.
 */
export interface ModelShape {
  readonly name: string;
  /** Transformer blocks; stage layer ranges index these from 0. */
  readonly numLayers: number;
  readonly hiddenSize: number;
  /** Query attention heads. */
  readonly numHeads: number;
  /** Key/value heads (grouped-query attention); equals numHeads without GQA. */
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Intermediate size of the gated MLP (gate, up and down projections). */
  readonly ffnSize: number;
  readonly vocabSize: number;
  /** The output head reuses the token embedding matrix. */
  readonly tiedEmbeddings: boolean;
  readonly maxPositionEmbeddings?: number;
}

/** Weight precisions for safetensors-style checkpoints, chosen at plan time. */
export const WEIGHT_DTYPES = ["bf16", "fp16", "fp8", "int8", "int4"] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

/**
 * Bytes per parameter of the linear (matmul) weights in each precision. int4
 * counts one fp16 scale per group of 128 weights, as GPTQ/AWQ checkpoints store
 * them (4 bits + 16/128 bits = 4.125 bits). fp8 scales are per tensor or per
 * channel and negligible.
 */
export const BYTES_PER_PARAM: Readonly<Record<WeightDtype, number>> = {
  bf16: 2,
  fp16: 2,
  fp8: 1,
  int8: 1,
  int4: 0.5 + 2 / 128,
};

/**
 * Where a model's weight bytes come from.
 * - `dtype`: a safetensors-style checkpoint; bytes follow from the parameter
 *   counts and the precision chosen at plan time (`weightBytes(spec, dtype)`).
 * - `gguf`: the exact bytes of the file's tensors, by placement.
 */
export type ModelWeights = { readonly kind: "dtype" } | GgufWeights;

export interface GgufWeights {
  readonly kind: "gguf";
  /** `token_embd.weight`. */
  readonly embeddingBytes: number;
  /** `output.weight` (absent when tied) and `output_norm.weight`. */
  readonly headBytes: number;
  /** All `blk.N.*` tensors, index N. */
  readonly layerBytes: readonly number[];
  /** Any other tensor (e.g. rope factors); placed with the first stage. */
  readonly otherBytes: number;
  /** The most common tensor type, e.g. "Q4_K", for display. */
  readonly mainType: string;
}

export interface ModelSpec extends ModelShape {
  readonly weights: ModelWeights;
}

/** Weight bytes by placement: embedding on the first stage, head on the last. */
export interface WeightBreakdown {
  /** Token embedding (plus unplaced extra tensors for GGUF). */
  readonly embeddingBytes: number;
  /** Output head and final norm as stored; for tied embeddings only the norm. */
  readonly headBytes: number;
  /**
   * For tied embeddings, the embedding matrix again: the last stage needs its own
   * copy when it is not also the first stage. 0 when untied.
   */
  readonly tiedHeadCopyBytes: number;
  readonly layerBytes: readonly number[];
  /** Everything stored once: embedding + head + layers. */
  readonly totalBytes: number;
}

/** Parameters of one transformer block: attention (q, k, v, o), gated MLP, two norms. */
export function layerParams(s: ModelShape): number {
  const q = s.numHeads * s.headDim;
  const kv = s.numKvHeads * s.headDim;
  return (
    s.hiddenSize * q +
    2 * s.hiddenSize * kv +
    q * s.hiddenSize +
    3 * s.hiddenSize * s.ffnSize +
    2 * s.hiddenSize
  );
}

/** All parameters, counting a tied embedding once. */
export function totalParams(s: ModelShape): number {
  const embedding = s.vocabSize * s.hiddenSize;
  const head = (s.tiedEmbeddings ? 0 : embedding) + s.hiddenSize;
  return embedding + head + s.numLayers * layerParams(s);
}

/** Bytes of K and V for one token in one layer, all KV heads. */
export function kvBytesPerTokenPerLayer(s: ModelShape, kvBytesPerElement: number): number {
  return 2 * s.numKvHeads * s.headDim * kvBytesPerElement;
}

/**
 * Weight bytes of a model by placement. `dtype` is required for `dtype` weights
 * and must be absent for GGUF weights, whose types are fixed by the file.
 * Quantized precisions (fp8, int8, int4) apply to the linear layers; the
 * embedding, head and norms stay in bf16, as vLLM loads such checkpoints.
 */
export function weightBytes(spec: ModelSpec, dtype?: WeightDtype): WeightBreakdown {
  if (spec.weights.kind === "gguf") {
    if (dtype !== undefined)
      throw new InputError("--dtype", "a GGUF model's tensor types are fixed by the file");
    const w = spec.weights;
    const embeddingBytes = w.embeddingBytes + w.otherBytes;
    return {
      embeddingBytes,
      headBytes: w.headBytes,
      tiedHeadCopyBytes: spec.tiedEmbeddings ? w.embeddingBytes : 0,
      layerBytes: w.layerBytes,
      totalBytes: embeddingBytes + w.headBytes + sum(w.layerBytes),
    };
  }
  if (dtype === undefined) throw new InputError("--dtype", "is required for this model");
  const linear = BYTES_PER_PARAM[dtype];
  const keep = 2; // embedding, head and norms stay in 16-bit
  const norms = 2 * spec.hiddenSize;
  const perLayer = (layerParams(spec) - norms) * linear + norms * keep;
  const embeddingBytes = spec.vocabSize * spec.hiddenSize * keep;
  const finalNormBytes = spec.hiddenSize * keep;
  const headBytes = (spec.tiedEmbeddings ? 0 : embeddingBytes) + finalNormBytes;
  const layerBytes = new Array<number>(spec.numLayers).fill(perLayer);
  return {
    embeddingBytes,
    headBytes,
    tiedHeadCopyBytes: spec.tiedEmbeddings ? embeddingBytes : 0,
    layerBytes,
    totalBytes: embeddingBytes + headBytes + sum(layerBytes),
  };
}

/**
 * Checks a shape's numbers; `field` prefixes the error (e.g. "config.json").
 * @throws InputError naming the first bad field
 */
export function validateModelShape(s: ModelShape, field: string): void {
  const positive: Array<[keyof ModelShape, number | undefined]> = [
    ["numLayers", s.numLayers],
    ["hiddenSize", s.hiddenSize],
    ["numHeads", s.numHeads],
    ["numKvHeads", s.numKvHeads],
    ["headDim", s.headDim],
    ["ffnSize", s.ffnSize],
    ["vocabSize", s.vocabSize],
  ];
  for (const [key, value] of positive) {
    if (value === undefined || !Number.isSafeInteger(value) || value <= 0) {
      throw new InputError(`${field}: ${key}`, `must be a positive integer, got ${String(value)}`);
    }
  }
  if (s.numHeads % s.numKvHeads !== 0) {
    throw new InputError(
      `${field}: numKvHeads`,
      `${s.numKvHeads} KV heads do not divide ${s.numHeads} attention heads`,
    );
  }
}

/** The architecture part of a spec, without where its weight bytes come from. */
export function modelShape(spec: ModelSpec): ModelShape {
  const { weights: _weights, ...shape } = spec;
  return shape;
}

function sum(xs: readonly number[]): number {
  let t = 0;
  for (const x of xs) t += x;
  return t;
}
