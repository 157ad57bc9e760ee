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
  /** Size of one query/key head (for MLA: the no-RoPE plus the RoPE part). */
  readonly headDim: number;
  /** Size of one value head when it differs from headDim. */
  readonly valueHeadDim?: number;
  /** Intermediate size of the gated MLP (gate, up and down projections) of dense layers. */
  readonly ffnSize: number;
  readonly vocabSize: number;
  /** The output head reuses the token embedding matrix. */
  readonly tiedEmbeddings: boolean;
  readonly maxPositionEmbeddings?: number;
  /** The q, k, v and output projections carry biases (gpt-oss). */
  readonly attentionBias?: boolean;
  /** Multi-head latent attention (DeepSeek): low-rank q and kv projections, a compressed KV cache. */
  readonly mla?: MlaShape;
  /** Mixture-of-experts MLPs; absent for dense models. */
  readonly moe?: MoeShape;
  /**
   * Parameters outside the decoder blocks, embedding and head: a vision encoder
   * and its projector. Kept in 16-bit and placed with the first stage.
   */
  readonly extraParams?: number;
}

/**
 * Multi-head latent attention, as DeepSeek-V2/V3 define it: queries through a
 * rank-`qLoraRank` bottleneck, keys and values through a shared rank-`kvLoraRank`
 * latent that is all the KV cache stores, plus one RoPE key of `qkRopeHeadDim`.
 * https://arxiv.org/abs/2412.19437 (section 2.1.1)
 */
export interface MlaShape {
  /** 0 when queries are projected directly (no low-rank bottleneck). */
  readonly qLoraRank: number;
  readonly kvLoraRank: number;
  readonly qkNopeHeadDim: number;
  readonly qkRopeHeadDim: number;
  readonly vHeadDim: number;
}

/**
 * Mixture-of-experts MLPs: in each MoE layer a router sends every token to
 * `expertsPerToken` of `numExperts` routed experts (gated MLPs of
 * `expertFfnSize`), and every token also passes the shared experts.
 */
export interface MoeShape {
  readonly numExperts: number;
  /** Routed experts per token (top-k). */
  readonly expertsPerToken: number;
  /** Intermediate size of one routed expert. */
  readonly expertFfnSize: number;
  /** Always-active shared experts per MoE layer (0 when none), each of sharedExpertFfnSize. */
  readonly sharedExperts: number;
  readonly sharedExpertFfnSize: number;
  /**
   * Layers with the dense MLP (ffnSize) instead of experts, ascending: DeepSeek's
   * leading dense layers (first_k_dense_replace), Llama 4's interleaving.
   */
  readonly denseLayers: readonly number[];
}

/** Weight precisions for safetensors-style checkpoints, chosen at plan time. */
export const WEIGHT_DTYPES = ["bf16", "fp16", "fp8", "int8", "mxfp4", "int4"] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

/**
 * Bytes per parameter of the quantized weights in each precision. int4 counts
 * one fp16 scale per group of 128 weights, as GPTQ/AWQ checkpoints store them
 * (4 bits + 16/128 bits = 4.125 bits). mxfp4 counts one 8-bit scale per block
 * of 32 (4.25 bits, the OCP microscaling format gpt-oss ships:
 * https://huggingface.co/openai/gpt-oss-120b, "MXFP4 quantization of the MoE
 * weights"). fp8 scales are per tensor, channel or 128×128 block and negligible.
 */
export const BYTES_PER_PARAM: Readonly<Record<WeightDtype, number>> = {
  bf16: 2,
  fp16: 2,
  fp8: 1,
  int8: 1,
  mxfp4: 0.5 + 1 / 32,
  int4: 0.5 + 2 / 128,
};

/** Embeddings, norms and everything a precision leaves unquantized stay in 16-bit. */
const KEPT_BYTES_PER_PARAM = 2;

/**
 * Where a model's weight bytes come from.
 * - `dtype`: a safetensors-style checkpoint; bytes follow from the parameter
 *   counts and the precision chosen at plan time (`weightBytes(spec, dtype)`).
 * - `gguf`: the exact bytes of the file's tensors, by placement.
 */
export type ModelWeights = DtypeWeights | GgufWeights;

export interface DtypeWeights {
  readonly kind: "dtype";
  /**
   * The precision the published checkpoint stores (config.json's
   * quantization_config, else torch_dtype), when the loader knows it; a plan's
   * default. `quantization` names a quantization method it has no precision for.
   */
  readonly checkpointDtype?: WeightDtype;
  readonly quantization?: string;
}

export interface GgufWeights {
  readonly kind: "gguf";
  /** `token_embd.weight`. */
  readonly embeddingBytes: number;
  /** `output.weight` (absent when tied) and `output_norm.weight`. */
  readonly headBytes: number;
  /** All `blk.N.*` tensors, index N. */
  readonly layerBytes: readonly number[];
  /** The routed experts' tensors (`blk.N.ffn_*_exps.*`) of block N; part of layerBytes. */
  readonly expertBytes: readonly number[];
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
  /** Token embedding (plus unplaced extra tensors for GGUF, a vision encoder for configs). */
  readonly embeddingBytes: number;
  /** Output head and final norm as stored; for tied embeddings only the norm. */
  readonly headBytes: number;
  /**
   * For tied embeddings, the embedding matrix again: the last stage needs its own
   * copy when it is not also the first stage. 0 when untied.
   */
  readonly tiedHeadCopyBytes: number;
  readonly layerBytes: readonly number[];
  /** The routed experts of each layer (0 for dense layers); part of layerBytes. */
  readonly expertBytes: readonly number[];
  /** Everything stored once: embedding + head + layers. */
  readonly totalBytes: number;
}

/** Whether block `layer` routes its tokens to experts. */
export function isMoeLayer(s: ModelShape, layer: number): boolean {
  return s.moe !== undefined && !s.moe.denseLayers.includes(layer);
}

/** Blocks with experts. */
export function moeLayerCount(s: ModelShape): number {
  return s.moe === undefined ? 0 : s.numLayers - s.moe.denseLayers.length;
}

function gatedMlpParams(hiddenSize: number, ffnSize: number): number {
  return 3 * hiddenSize * ffnSize;
}

/**
 * Parameters of one attention block: the q, k, v and output projections (and
 * their biases); for MLA the low-rank factors and the norms between them.
 */
export function attentionParams(s: ModelShape): number {
  const h = s.hiddenSize;
  const m = s.mla;
  if (m) {
    const qHead = m.qkNopeHeadDim + m.qkRopeHeadDim;
    const q =
      m.qLoraRank > 0
        ? h * m.qLoraRank + m.qLoraRank + m.qLoraRank * s.numHeads * qHead
        : h * s.numHeads * qHead;
    const kv =
      h * (m.kvLoraRank + m.qkRopeHeadDim) +
      m.kvLoraRank +
      m.kvLoraRank * s.numHeads * (m.qkNopeHeadDim + m.vHeadDim);
    return q + kv + s.numHeads * m.vHeadDim * h;
  }
  const v = s.valueHeadDim ?? s.headDim;
  const q = s.numHeads * s.headDim;
  const k = s.numKvHeads * s.headDim;
  const vOut = s.numKvHeads * v;
  const o = s.numHeads * v;
  const bias = s.attentionBias ? q + k + vOut + h : 0;
  return h * (q + k + vOut) + o * h + bias;
}

/** Parameters of the routed experts of block `layer` (0 for a dense block). */
export function routedExpertParams(s: ModelShape, layer: number): number {
  if (!s.moe || !isMoeLayer(s, layer)) return 0;
  return s.moe.numExperts * gatedMlpParams(s.hiddenSize, s.moe.expertFfnSize);
}

/** Parameters of the MLP of block `layer` that every token passes: the dense MLP, or the shared experts and the router. */
function alwaysActiveMlpParams(s: ModelShape, layer: number): number {
  const h = s.hiddenSize;
  if (!s.moe || !isMoeLayer(s, layer)) return gatedMlpParams(h, s.ffnSize);
  const shared = s.moe.sharedExperts * gatedMlpParams(h, s.moe.sharedExpertFfnSize);
  return shared + h * s.moe.numExperts;
}

/** Parameters of block `layer`: attention, MLP or experts, two norms. */
export function layerParamsAt(s: ModelShape, layer: number): number {
  return (
    attentionParams(s) + alwaysActiveMlpParams(s, layer) + routedExpertParams(s, layer) + 2 * s.hiddenSize
  );
}

/** Mean parameters of one transformer block (all blocks are equal in a dense model). */
export function layerParams(s: ModelShape): number {
  let t = 0;
  for (let i = 0; i < s.numLayers; i++) t += layerParamsAt(s, i);
  return t / s.numLayers;
}

/** All parameters, counting a tied embedding once. */
export function totalParams(s: ModelShape): number {
  const embedding = s.vocabSize * s.hiddenSize;
  const head = (s.tiedEmbeddings ? 0 : embedding) + s.hiddenSize;
  let layers = 0;
  for (let i = 0; i < s.numLayers; i++) layers += layerParamsAt(s, i);
  return embedding + head + layers + (s.extraParams ?? 0);
}

/**
 * Parameters one token multiplies through: attention, the dense MLP or its
 * top-k routed and shared experts and the router, the norms, and the output
 * head. The input embedding is a lookup of one row, so it is not counted
 * (publishers differ here: compare with `+ vocabSize × hiddenSize` where a
 * published figure counts it). Encoders outside the decoder are not counted.
 */
export function activeParams(s: ModelShape): number {
  const h = s.hiddenSize;
  let t = 0;
  for (let i = 0; i < s.numLayers; i++) {
    const routed =
      s.moe && isMoeLayer(s, i) ? s.moe.expertsPerToken * gatedMlpParams(h, s.moe.expertFfnSize) : 0;
    t += attentionParams(s) + alwaysActiveMlpParams(s, i) + routed + 2 * h;
  }
  return t + s.vocabSize * h + h;
}

/**
 * Elements the KV cache stores for one token in one layer, whole model: K and V
 * of every KV head; for MLA only the compressed latent c_KV and the shared RoPE
 * key k_R (DeepSeek-V3 technical report, https://arxiv.org/abs/2412.19437,
 * section 2.1.1), which vLLM and llama.cpp cache as one entry per token and
 * layer, the same on every tensor-parallel rank.
 */
export function kvElementsPerTokenPerLayer(s: ModelShape): number {
  if (s.mla) return s.mla.kvLoraRank + s.mla.qkRopeHeadDim;
  return s.numKvHeads * (s.headDim + (s.valueHeadDim ?? s.headDim));
}

/** Bytes of K and V for one token in one layer, all KV heads. */
export function kvBytesPerTokenPerLayer(s: ModelShape, kvBytesPerElement: number): number {
  return kvElementsPerTokenPerLayer(s) * kvBytesPerElement;
}

/**
 * Weight bytes of a model by placement. `dtype` is required for `dtype` weights
 * and must be absent for GGUF weights, whose types are fixed by the file.
 * Quantized precisions apply to the linear layers: fp8, int8 and int4 to all
 * of them, mxfp4 to the routed experts only (as gpt-oss ships it); the
 * embedding, head, norms and any vision encoder stay in 16-bit, as vLLM loads
 * such checkpoints.
 * @throws InputError("--dtype") for a missing or conflicting dtype, or mxfp4 on a dense model
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
      expertBytes: w.expertBytes,
      totalBytes: embeddingBytes + w.headBytes + sum(w.layerBytes),
    };
  }
  if (dtype === undefined) throw new InputError("--dtype", "is required for this model");
  if (dtype === "mxfp4" && !spec.moe) {
    throw new InputError("--dtype", `mxfp4 quantizes expert weights, and ${spec.name} has no experts`);
  }
  const linear = dtype === "mxfp4" ? KEPT_BYTES_PER_PARAM : BYTES_PER_PARAM[dtype];
  const expert = BYTES_PER_PARAM[dtype];
  const keep = KEPT_BYTES_PER_PARAM;
  const norms = 2 * spec.hiddenSize;
  const layerBytes: number[] = [];
  const expertBytes: number[] = [];
  for (let i = 0; i < spec.numLayers; i++) {
    const routed = routedExpertParams(spec, i);
    const experts = routed * expert;
    expertBytes.push(experts);
    layerBytes.push((layerParamsAt(spec, i) - norms - routed) * linear + experts + norms * keep);
  }
  const embeddingBytes = spec.vocabSize * spec.hiddenSize * keep;
  const finalNormBytes = spec.hiddenSize * keep;
  const headBytes = (spec.tiedEmbeddings ? 0 : embeddingBytes) + finalNormBytes;
  const firstStageBytes = embeddingBytes + (spec.extraParams ?? 0) * keep;
  return {
    embeddingBytes: firstStageBytes,
    headBytes,
    tiedHeadCopyBytes: spec.tiedEmbeddings ? embeddingBytes : 0,
    layerBytes,
    expertBytes,
    totalBytes: firstStageBytes + headBytes + sum(layerBytes),
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
  const m = s.moe;
  if (!m) return;
  for (const [key, value] of [
    ["moe.numExperts", m.numExperts],
    ["moe.expertsPerToken", m.expertsPerToken],
    ["moe.expertFfnSize", m.expertFfnSize],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InputError(`${field}: ${key}`, `must be a positive integer, got ${String(value)}`);
    }
  }
  if (m.expertsPerToken > m.numExperts) {
    throw new InputError(
      `${field}: moe.expertsPerToken`,
      `${m.expertsPerToken} exceeds the ${m.numExperts} experts`,
    );
  }
  if (m.denseLayers.some((l) => !Number.isSafeInteger(l) || l < 0 || l >= s.numLayers)) {
    throw new InputError(`${field}: moe.denseLayers`, `must be layer indices below ${s.numLayers}`);
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
