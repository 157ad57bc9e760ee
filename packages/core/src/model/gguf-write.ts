import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPE, GGUF_VERSION } from "./gguf.js";

/** A metadata entry to write, with its GGUF value type (and item type for arrays). */
export type GgufEntry =
  | { readonly key: string; readonly type: Exclude<GgufValueTypeId, 9>; readonly value: GgufScalar }
  | {
      readonly key: string;
      readonly type: typeof GGUF_VALUE_TYPE.ARRAY;
      readonly itemType: Exclude<GgufValueTypeId, 9>;
      readonly value: readonly GgufScalar[];
    };
export type GgufScalar = number | bigint | boolean | string;
export type GgufValueTypeId = (typeof GGUF_VALUE_TYPE)[keyof typeof GGUF_VALUE_TYPE];

export interface GgufTensorToWrite {
  readonly name: string;
  /** ggml order: dims[0] is the innermost dimension. */
  readonly dims: readonly number[];
  /** A ggml type id, see GGML_TYPE. */
  readonly type: number;
  /** Offset of the tensor's data from the start of the data section (aligned). */
  readonly offset: number;
}

/**
 * Encodes a GGUF v3 header (little-endian), padded to the data alignment, so that
 * tensor data can follow directly. The inverse of `parseGguf` for headers.
 */
export function encodeGgufHeader(
  metadata: readonly GgufEntry[],
  tensors: readonly GgufTensorToWrite[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Uint8Array {
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const e of metadata) {
    w.string(e.key);
    w.u32(e.type);
    if (e.type === GGUF_VALUE_TYPE.ARRAY) {
      w.u32(e.itemType);
      w.u64(e.value.length);
      for (const v of e.value) w.scalar(e.itemType, v);
    } else {
      w.scalar(e.type, e.value);
    }
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(t.offset);
  }
  const padded = Math.ceil(w.length / alignment) * alignment;
  w.pad(padded - w.length);
  return w.bytes();
}

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  private readonly encoder = new TextEncoder();

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  private fixed(n: number, write: (v: DataView) => void): void {
    const chunk = new Uint8Array(n);
    write(new DataView(chunk.buffer));
    this.push(chunk);
  }

  u32(v: number): void {
    this.fixed(4, (d) => d.setUint32(0, v, true));
  }

  u64(v: number | bigint): void {
    this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }

  string(s: string): void {
    const b = this.encoder.encode(s);
    this.u64(b.byteLength);
    this.push(b);
  }

  pad(n: number): void {
    this.push(new Uint8Array(n));
  }

  scalar(type: GgufValueTypeId, v: GgufScalar): void {
    const T = GGUF_VALUE_TYPE;
    const n = Number(v);
    switch (type) {
      case T.UINT8:
        this.fixed(1, (d) => d.setUint8(0, n));
        break;
      case T.INT8:
        this.fixed(1, (d) => d.setInt8(0, n));
        break;
      case T.UINT16:
        this.fixed(2, (d) => d.setUint16(0, n, true));
        break;
      case T.INT16:
        this.fixed(2, (d) => d.setInt16(0, n, true));
        break;
      case T.UINT32:
        this.fixed(4, (d) => d.setUint32(0, n, true));
        break;
      case T.INT32:
        this.fixed(4, (d) => d.setInt32(0, n, true));
        break;
      case T.FLOAT32:
        this.fixed(4, (d) => d.setFloat32(0, n, true));
        break;
      case T.BOOL:
        this.fixed(1, (d) => d.setUint8(0, v ? 1 : 0));
        break;
      case T.STRING:
        this.string(String(v));
        break;
      case T.UINT64:
        this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
        break;
      case T.INT64:
        this.fixed(8, (d) => d.setBigInt64(0, BigInt(v), true));
        break;
      case T.FLOAT64:
        this.fixed(8, (d) => d.setFloat64(0, n, true));
        break;
      default:
        throw new TypeError(`cannot write GGUF value type ${type} as a scalar`);
    }
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}
