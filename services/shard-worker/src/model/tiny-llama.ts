import { BYTE_VOCAB_BOS_ID, BYTE_VOCAB_EOS_ID, BYTE_VOCAB_SIZE, byteVocabulary } from "./byte-vocab.js";
import {
  encodeGgufHeader,
  float32ToFloat16Bits,
  type GgufTensorInfo,
  type GgufValue,
  type TensorElementType,
  tensorByteLength,
  tensorPadding,
} from "./gguf-writer.js";
import { SeededRandom } from "./prng.js";

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

interface PlannedTensor extends GgufTensorInfo {
  readonly init: Init;
}

function planTensors(o: TinyLlamaOptions): PlannedTensor[] {
  const headDim = o.hidden / o.heads;
  const kvDim = headDim * o.kvHeads;
  const t = o.tensorType;
  // The EOS logit is damped so greedy decoding runs for the requested length.
  const dampEos = (row: number) => (row === BYTE_VOCAB_EOS_ID ? 0 : 1);
  const tensors: PlannedTensor[] = [
    {
      name: "token_embd.weight",
      dims: [o.hidden, BYTE_VOCAB_SIZE],
      type: t,
      init: { kind: "random", fanIn: 1 },
    },
  ];
  for (let i = 0; i < o.layers; i++) {
    const b = `blk.${i}`;
    tensors.push(
      { name: `${b}.attn_norm.weight`, dims: [o.hidden], type: "f32", init: { kind: "ones" } },
      {
        name: `${b}.attn_q.weight`,
        dims: [o.hidden, o.hidden],
        type: t,
        init: { kind: "random", fanIn: o.hidden },
      },
      {
        name: `${b}.attn_k.weight`,
        dims: [o.hidden, kvDim],
        type: t,
        init: { kind: "random", fanIn: o.hidden },
      },
      {
        name: `${b}.attn_v.weight`,
        dims: [o.hidden, kvDim],
        type: t,
        init: { kind: "random", fanIn: o.hidden },
      },
      {
        name: `${b}.attn_output.weight`,
        dims: [o.hidden, o.hidden],
        type: t,
        init: { kind: "random", fanIn: o.hidden },
      },
      { name: `${b}.ffn_norm.weight`, dims: [o.hidden], type: "f32", init: { kind: "ones" } },
      {
        name: `${b}.ffn_gate.weight`,
        dims: [o.hidden, o.ffn],
        type: t,
        init: { kind: "random", fanIn: o.hidden },
      },
      {
        name: `${b}.ffn_up.weight`,
        dims: [o.hidden, o.ffn],
        type: t,
        init: { kind: "random", fanIn: o.hidden },
      },
      {
        name: `${b}.ffn_down.weight`,
        dims: [o.ffn, o.hidden],
        type: t,
        init: { kind: "random", fanIn: o.ffn },
      },
    );
  }
  tensors.push(
    { name: "output_norm.weight", dims: [o.hidden], type: "f32", init: { kind: "ones" } },
    {
      name: "output.weight",
      dims: [o.hidden, BYTE_VOCAB_SIZE],
      type: t,
      init: { kind: "random", fanIn: o.hidden, rowScale: dampEos },
    },
  );
  return tensors;
}

function metadata(o: TinyLlamaOptions): Map<string, GgufValue> {
  const vocab = byteVocabulary();
  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  return new Map<string, GgufValue>([
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: `strata-tiny-llama-${o.layers}L-${o.hidden}d-seed${o.seed}` }],
    ["general.file_type", u32(o.tensorType === "f32" ? 0 : 1)],
    ["llama.context_length", u32(o.contextLength)],
    ["llama.embedding_length", u32(o.hidden)],
    ["llama.block_count", u32(o.layers)],
    ["llama.feed_forward_length", u32(o.ffn)],
    ["llama.attention.head_count", u32(o.heads)],
    ["llama.attention.head_count_kv", u32(o.kvHeads)],
    ["llama.rope.dimension_count", u32(o.hidden / o.heads)],
    ["llama.attention.layer_norm_rms_epsilon", { type: "float32", value: RMS_NORM_EPSILON }],
    ["llama.rope.freq_base", { type: "float32", value: ROPE_FREQ_BASE }],
    ["llama.vocab_size", u32(BYTE_VOCAB_SIZE)],
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "default" }],
    ["tokenizer.ggml.tokens", { type: "array", elementType: "string", values: vocab.tokens }],
    ["tokenizer.ggml.token_type", { type: "array", elementType: "int32", values: vocab.tokenTypes }],
    ["tokenizer.ggml.merges", { type: "array", elementType: "string", values: [] }],
    ["tokenizer.ggml.bos_token_id", u32(BYTE_VOCAB_BOS_ID)],
    ["tokenizer.ggml.eos_token_id", u32(BYTE_VOCAB_EOS_ID)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
  ]);
}

function tensorData(info: PlannedTensor, rng: SeededRandom): Buffer {
  const elements = info.dims.reduce((a, b) => a * b, 1);
  const rowLength = info.dims[0] ?? 1;
  const out = Buffer.alloc(tensorByteLength(info));
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
 * first the header, then each tensor's data (already padded), lazily so a
 * large model never sits in memory whole.
 */
export function* tinyLlamaGgufChunks(options: Partial<TinyLlamaOptions> = {}): Generator<Buffer> {
  const o: TinyLlamaOptions = { ...TINY_LLAMA_DEFAULTS, ...options };
  validate(o);
  const tensors = planTensors(o);
  yield encodeGgufHeader(metadata(o), tensors);
  const rng = new SeededRandom(o.seed);
  for (const tensor of tensors) {
    yield tensorData(tensor, rng);
    yield tensorPadding(tensor);
  }
}
