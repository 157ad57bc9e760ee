import { InputError } from "../errors.js";
import { type GgmlTypeInfo, ggmlTensorBytes, ggmlTypeInfo } from "./ggml-types.js";

/**
 * A reader for the header of a GGUF file (versions 2 and 3, little-endian): magic,
 * version, tensor count, metadata key/values and tensor infos. It never touches
 * tensor data, so a prefix of the file that holds the header is enough.
 *
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md and
 * ggml/include/gguf.h in llama.cpp.
 */

/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
/** Tensor data alignment when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types (`enum gguf_type` in gguf.h). */
export const GGUF_VALUE_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** A metadata value; 64-bit integers beyond 2^53 come back as bigint. */
export type GgufValue = number | bigint | boolean | string | readonly GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] is the innermost dimension. */
  readonly dims: readonly number[];
  readonly type: GgmlTypeInfo;
  /** Offset of the tensor's data from the start of the data section. */
  readonly offset: number;
  readonly bytes: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Byte offset in the file where the (aligned) tensor data section starts. */
  readonly dataOffset: number;
}

/**
 * The bytes given end before the header does. Thrown by `parseGguf`; a caller that
 * read only a prefix of the file may retry with more bytes.
 */
export class GgufTruncatedError extends InputError {
  override readonly name: string = "GgufTruncatedError";
}

const MAX_TENSORS = 1 << 20;
const MAX_KV = 1 << 20;
const MAX_DIMS = 4;
const MAX_ARRAY_DEPTH = 4;

export interface ParseGgufOptions {
  /** How errors name the input, e.g. the file path. Default "gguf". */
  readonly source?: string;
}

/**
 * Parses a GGUF header from `bytes` (the whole file or a prefix of it).
 * @throws GgufTruncatedError when `bytes` end inside the header
 * @throws InputError when the header is malformed or uses an unsupported version or type
 */
export function parseGguf(bytes: Uint8Array, options: ParseGgufOptions = {}): GgufHeader {
  const source = options.source ?? "gguf";
  const r = new Reader(bytes, source);
  const magic = r.u32("magic");
  if (magic !== GGUF_MAGIC) throw new InputError(source, "not a GGUF file (bad magic number)");
  const version = r.u32("version");
  if (version !== 2 && version !== 3) {
    throw new InputError(source, `unsupported GGUF version ${version} (expected 2 or 3, little-endian)`);
  }
  const tensorCount = r.count("tensor count", MAX_TENSORS);
  const kvCount = r.count("metadata count", MAX_KV);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string("metadata key");
    const type = r.u32(`type of ${key}`);
    metadata.set(key, r.value(type, key, 0));
  }

  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string("tensor name");
    const nDims = r.u32(`${name}: dimension count`);
    if (nDims === 0 || nDims > MAX_DIMS)
      throw new InputError(source, `tensor ${name} has ${nDims} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(r.count(`${name}: dimension`, Number.MAX_SAFE_INTEGER));
    const typeId = r.u32(`${name}: type`);
    const type = ggmlTypeInfo(typeId);
    if (!type) throw new InputError(source, `tensor ${name} has unknown ggml type ${typeId}`);
    const offset = r.count(`${name}: offset`, Number.MAX_SAFE_INTEGER);
    const tensorBytes = ggmlTensorBytes(type, dims);
    if (tensorBytes === undefined) {
      throw new InputError(source, `tensor ${name} [${dims.join(", ")}] does not fit ${type.name} blocks`);
    }
    tensors.push({ name, dims, type, offset, bytes: tensorBytes });
  }

  const alignmentValue = metadata.get("general.alignment") ?? GGUF_DEFAULT_ALIGNMENT;
  if (typeof alignmentValue !== "number" || alignmentValue <= 0 || alignmentValue % 8 !== 0) {
    throw new InputError(source, "general.alignment must be a positive multiple of 8");
  }
  const dataOffset = Math.ceil(r.position / alignmentValue) * alignmentValue;
  return { version, metadata, tensors, alignment: alignmentValue, dataOffset };
}

/** Sequential little-endian reads that fail with a named error instead of a RangeError. */
class Reader {
  private readonly view: DataView;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  position = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.position + n > this.bytes.byteLength) {
      throw new GgufTruncatedError(
        this.source,
        `file ends inside the header (reading ${what} at byte ${this.position}, ${this.bytes.byteLength} bytes available)`,
      );
    }
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.position, true);
    this.position += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.position, true);
    this.position += 8;
    return v;
  }

  /** A uint64 count or size that must stay within `max`. */
  count(what: string, max: number): number {
    const v = this.u64(what);
    if (v > BigInt(max)) throw new InputError(this.source, `${what} ${v} is out of range`);
    return Number(v);
  }

  string(what: string): string {
    const length = this.count(`${what} length`, Number.MAX_SAFE_INTEGER);
    this.need(length, what);
    const slice = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    try {
      return this.decoder.decode(slice);
    } catch (err: unknown) {
      throw new InputError(this.source, `${what} is not valid UTF-8`, { cause: err });
    }
  }

  value(type: number, key: string, depth: number): GgufValue {
    const v = this.view;
    const at = (n: number): number => {
      this.need(n, key);
      const p = this.position;
      this.position += n;
      return p;
    };
    switch (type) {
      case GGUF_VALUE_TYPE.UINT8:
        return v.getUint8(at(1));
      case GGUF_VALUE_TYPE.INT8:
        return v.getInt8(at(1));
      case GGUF_VALUE_TYPE.UINT16:
        return v.getUint16(at(2), true);
      case GGUF_VALUE_TYPE.INT16:
        return v.getInt16(at(2), true);
      case GGUF_VALUE_TYPE.UINT32:
        return v.getUint32(at(4), true);
      case GGUF_VALUE_TYPE.INT32:
        return v.getInt32(at(4), true);
      case GGUF_VALUE_TYPE.FLOAT32:
        return v.getFloat32(at(4), true);
      case GGUF_VALUE_TYPE.BOOL: {
        const b = v.getUint8(at(1));
        if (b > 1) throw new InputError(this.source, `${key}: bool value ${b} is not 0 or 1`);
        return b === 1;
      }
      case GGUF_VALUE_TYPE.STRING:
        return this.string(key);
      case GGUF_VALUE_TYPE.UINT64:
        return safeNumber(v.getBigUint64(at(8), true));
      case GGUF_VALUE_TYPE.INT64:
        return safeNumber(v.getBigInt64(at(8), true));
      case GGUF_VALUE_TYPE.FLOAT64:
        return v.getFloat64(at(8), true);
      case GGUF_VALUE_TYPE.ARRAY: {
        if (depth >= MAX_ARRAY_DEPTH) throw new InputError(this.source, `${key}: arrays nested too deep`);
        const itemType = this.u32(`${key} item type`);
        const length = this.count(`${key} length`, Number.MAX_SAFE_INTEGER);
        // Every item takes at least one byte, so a longer array cannot be in the buffer.
        this.need(Math.min(length, Number.MAX_SAFE_INTEGER), key);
        const items: GgufValue[] = [];
        for (let i = 0; i < length; i++) items.push(this.value(itemType, key, depth + 1));
        return items;
      }
      default:
        throw new InputError(this.source, `${key}: unknown metadata value type ${type}`);
    }
  }
}

function safeNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
