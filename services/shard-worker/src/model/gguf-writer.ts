/**
 * Byte encoding of GGUF v3 files: header, metadata key-values, tensor infos and
 * aligned tensor data. Pure: produces Buffers; writing them is the caller's job.
 * Format reference: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT_BYTES = 32;

/** Value type ids from the GGUF spec. */
export const GgufValueType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** Tensor element types this writer emits (ids from ggml.h `enum ggml_type`). */
export const GgmlTensorType = { f32: 0, f16: 1 } as const;
export type TensorElementType = keyof typeof GgmlTensorType;

export type GgufScalar =
  | { type: "uint32"; value: number }
  | { type: "int32"; value: number }
  | { type: "float32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string };

export type GgufValue =
  | GgufScalar
  | { type: "array"; elementType: "string"; values: readonly string[] }
  | { type: "array"; elementType: "int32"; values: readonly number[] }
  | { type: "array"; elementType: "float32"; values: readonly number[] };

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  readonly dims: readonly number[];
  readonly type: TensorElementType;
}

/** Growable little-endian byte sink. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.reserve(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number): void {
    this.reserve(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  u64(v: number): void {
    this.reserve(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number): void {
    this.reserve(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u8(v: number): void {
    this.reserve(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  get size(): number {
    return this.length;
  }
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

export function tensorByteLength(info: GgufTensorInfo): number {
  const elements = info.dims.reduce((a, b) => a * b, 1);
  return elements * (info.type === "f32" ? 4 : 2);
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function writeValue(sink: ByteSink, value: GgufValue): void {
  switch (value.type) {
    case "uint32":
      sink.u32(GgufValueType.uint32);
      sink.u32(value.value);
      return;
    case "int32":
      sink.u32(GgufValueType.int32);
      sink.i32(value.value);
      return;
    case "float32":
      sink.u32(GgufValueType.float32);
      sink.f32(value.value);
      return;
    case "bool":
      sink.u32(GgufValueType.bool);
      sink.u8(value.value ? 1 : 0);
      return;
    case "string":
      sink.u32(GgufValueType.string);
      sink.str(value.value);
      return;
    case "array":
      sink.u32(GgufValueType.array);
      sink.u32(GgufValueType[value.elementType]);
      sink.u64(value.values.length);
      for (const element of value.values) {
        if (value.elementType === "string") sink.str(element as string);
        else if (value.elementType === "int32") sink.i32(element as number);
        else sink.f32(element as number);
      }
      return;
  }
}

/**
 * Encodes everything before the tensor data: header, metadata, tensor infos and
 * the padding up to the data section. Tensor data must then follow in the
 * order of `tensors`, each padded to `alignment` (see `tensorPadding`).
 */
export function encodeGgufHeader(
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorInfo[],
  alignment: number = GGUF_DEFAULT_ALIGNMENT_BYTES,
): Buffer {
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(tensors.length);
  sink.u64(metadata.size);
  for (const [key, value] of metadata) {
    sink.str(key);
    writeValue(sink, value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    sink.str(tensor.name);
    sink.u32(tensor.dims.length);
    for (const d of tensor.dims) sink.u64(d);
    sink.u32(GgmlTensorType[tensor.type]);
    sink.u64(offset);
    offset = alignUp(offset + tensorByteLength(tensor), alignment);
  }
  sink.padTo(alignment);
  return sink.toBuffer();
}

/** Zero bytes to append after a tensor's data so the next one starts aligned. */
export function tensorPadding(
  info: GgufTensorInfo,
  alignment: number = GGUF_DEFAULT_ALIGNMENT_BYTES,
): Buffer {
  const length = tensorByteLength(info);
  return Buffer.alloc(alignUp(length, alignment) - length);
}

/** IEEE 754 binary16 bits for a float (round to nearest even). */
export function float32ToFloat16Bits(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent is still correct
  return sign | half;
}
