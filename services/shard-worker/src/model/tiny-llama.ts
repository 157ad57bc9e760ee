import {
  encodeGgufHeader,
  GGML_TYPE,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_VALUE_TYPE,
  type GgufEntry,
  type GgufTensorToWrite,
} from "@strata/core";
import { BYTE_VOCAB_BOS_ID, BYTE_VOCAB_EOS_ID, BYTE_VOCAB_SIZE, byteVocabulary } from "./byte-vocab.js";
import { float32ToFloat16Bits } from "./float16.js";
import { SeededRandom } from "./prng.js";

export type TensorElementType = "f32" | "f16";

/** Shape of a generated llama-architecture model. */
export interface TinyLlamaOptions {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly seed: number;
  readonly contextLength: number;
  readonly tensorType: TensorElementType;
}

export const TINY_LLAMA_DEFAULTS: TinyLlamaOptions = {
  layers: 12,
  hidden: 256,
  heads: 8,
  kvHeads: 4,
  ffn: 512,
  seed: 0,
  contextLength: 2048,
  tensorType: "f32",
};

const RMS_NORM_EPSILON = 1e-5;
const ROPE_FREQ_BASE = 10_000;

/** Thrown for shapes llama.cpp cannot build; `field` names the option. */
export class ModelShapeError extends Error {
  override readonly name = "ModelShapeError";
  constructor(
    readonly field: keyof TinyLlamaOptions,
    message: string,
  ) {
    super(message);
  }
}

function validate(o: TinyLlamaOptions): void {
  if (o.hidden % o.heads !== 0)
    throw new ModelShapeError("hidden", `must be a multiple of heads (${o.heads})`);
  if (o.heads % o.kvHeads !== 0) throw new ModelShapeError("kvHeads", `must divide heads (${o.heads})`);
  if ((o.hidden / o.heads) % 2 !== 0) throw new ModelShapeError("hidden", "hidden/heads must be even (RoPE)");
}

/** How a weight is initialised: random with a fan-in scale, or all ones (norms). */
type Init = { kind: "random"; fanIn: number; rowScale?: (row: number) => number } | { kind: "ones" };

interface PlannedTensor {
  readonly name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  readonly dims: readonly number[];
  readonly type: TensorElementType;
  readonly init: Init;
}

function planTensors(o: TinyLlamaOptions): PlannedTensor[] {
  const kvDim = (o.hidden / o.heads) * o.kvHeads;
  const t = o.tensorType;
  const weight = (name: string, dims: readonly number[], fanIn: number): PlannedTensor => ({
    name,
    dims,
    type: t,
    init: { kind: "random", fanIn },
  });
  const norm = (name: string): PlannedTensor => ({
    name,
    dims: [o.hidden],
    type: "f32",
    init: { kind: "ones" },
  });
  const tensors: PlannedTensor[] = [weight("token_embd.weight", [o.hidden, BYTE_VOCAB_SIZE], 1)];
  for (let i = 0; i < o.layers; i++) {
    const b = `blk.${i}`;
    tensors.push(
      norm(`${b}.attn_norm.weight`),
      weight(`${b}.attn_q.weight`, [o.hidden, o.hidden], o.hidden),
      weight(`${b}.attn_k.weight`, [o.hidden, kvDim], o.hidden),
      weight(`${b}.attn_v.weight`, [o.hidden, kvDim], o.hidden),
      weight(`${b}.attn_output.weight`, [o.hidden, o.hidden], o.hidden),
      norm(`${b}.ffn_norm.weight`),
      weight(`${b}.ffn_gate.weight`, [o.hidden, o.ffn], o.hidden),
      weight(`${b}.ffn_up.weight`, [o.hidden, o.ffn], o.hidden),
      weight(`${b}.ffn_down.weight`, [o.ffn, o.hidden], o.ffn),
    );
  }
  // The EOS row of the output matrix is zero so greedy decoding runs for the requested length.
  const dampEos = (row: number) => (row === BYTE_VOCAB_EOS_ID ? 0 : 1);
  tensors.push(norm("output_norm.weight"), {
    ...weight("output.weight", [o.hidden, BYTE_VOCAB_SIZE], o.hidden),
    init: { kind: "random", fanIn: o.hidden, rowScale: dampEos },
  });
  return tensors;
}

function metadata(o: TinyLlamaOptions): GgufEntry[] {
  const T = GGUF_VALUE_TYPE;
  const vocab = byteVocabulary();
  const u32 = (key: string, value: number): GgufEntry => ({ key, type: T.UINT32, value });
  const arch = (key: string, value: number) => u32(`llama.${key}`, value);
  return [
    { key: "general.architecture", type: T.STRING, value: "llama" },
    {
      key: "general.name",
      type: T.STRING,
      value: `strata-tiny-llama-${o.layers}L-${o.hidden}d-seed${o.seed}`,
    },
    u32("general.file_type", o.tensorType === "f32" ? 0 : 1),
    arch("context_length", o.contextLength),
    arch("embedding_length", o.hidden),
    arch("block_count", o.layers),
    arch("feed_forward_length", o.ffn),
    arch("attention.head_count", o.heads),
    arch("attention.head_count_kv", o.kvHeads),
    arch("rope.dimension_count", o.hidden / o.heads),
    arch("vocab_size", BYTE_VOCAB_SIZE),
    { key: "llama.attention.layer_norm_rms_epsilon", type: T.FLOAT32, value: RMS_NORM_EPSILON },
    { key: "llama.rope.freq_base", type: T.FLOAT32, value: ROPE_FREQ_BASE },
    { key: "tokenizer.ggml.model", type: T.STRING, value: "gpt2" },
    { key: "tokenizer.ggml.pre", type: T.STRING, value: "default" },
    { key: "tokenizer.ggml.tokens", type: T.ARRAY, itemType: T.STRING, value: vocab.tokens },
    { key: "tokenizer.ggml.token_type", type: T.ARRAY, itemType: T.INT32, value: vocab.tokenTypes },
    { key: "tokenizer.ggml.merges", type: T.ARRAY, itemType: T.STRING, value: [] },
    u32("tokenizer.ggml.bos_token_id", BYTE_VOCAB_BOS_ID),
    u32("tokenizer.ggml.eos_token_id", BYTE_VOCAB_EOS_ID),
    { key: "tokenizer.ggml.add_bos_token", type: T.BOOL, value: true },
  ];
}

function byteLength(t: PlannedTensor): number {
  return t.dims.reduce((a, b) => a * b, 1) * (t.type === "f32" ? 4 : 2);
}

function alignUp(n: number): number {
  return Math.ceil(n / GGUF_DEFAULT_ALIGNMENT) * GGUF_DEFAULT_ALIGNMENT;
}

function tensorData(info: PlannedTensor, rng: SeededRandom): Buffer {
  const elements = info.dims.reduce((a, b) => a * b, 1);
  const rowLength = info.dims[0] ?? 1;
  const out = Buffer.alloc(alignUp(byteLength(info)));
  for (let i = 0; i < elements; i++) {
    let v = 1;
    if (info.init.kind === "random") {
      // Uniform with variance 1/fanIn keeps activations O(1) through the layers.
      v = rng.symmetric(Math.sqrt(3 / info.init.fanIn));
      if (info.init.rowScale) v *= info.init.rowScale(Math.floor(i / rowLength));
    }
    if (info.type === "f32") out.writeFloatLE(v, i * 4);
    else out.writeUInt16LE(float32ToFloat16Bits(v), i * 2);
  }
  return out;
}

/**
 * The bytes of a llama-architecture GGUF with deterministic random weights:
 * first the header, then each tensor's data (padded to the alignment), lazily
 * so a large model never sits in memory whole.
 */
export function* tinyLlamaGgufChunks(options: Partial<TinyLlamaOptions> = {}): Generator<Buffer> {
  const o: TinyLlamaOptions = { ...TINY_LLAMA_DEFAULTS, ...options };
  validate(o);
  const tensors = planTensors(o);
  let offset = 0;
  const infos: GgufTensorToWrite[] = tensors.map((t) => {
    const info = {
      name: t.name,
      dims: t.dims,
      type: t.type === "f32" ? GGML_TYPE.F32 : GGML_TYPE.F16,
      offset,
    };
    offset += alignUp(byteLength(t));
    return info;
  });
  yield Buffer.from(encodeGgufHeader(metadata(o), infos));
  const rng = new SeededRandom(o.seed);
  for (const tensor of tensors) yield tensorData(tensor, rng);
}
