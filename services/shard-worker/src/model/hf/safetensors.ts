import { open, rename, rm } from "node:fs/promises";

/**
 * A safetensors writer. The format (https://github.com/huggingface/safetensors,
 * README "Format"): an unsigned little-endian 64-bit header length N, N bytes
 * of UTF-8 JSON mapping each tensor name to {dtype, shape, data_offsets:
 * [begin, end)} relative to the data that follows (plus an optional
 * "__metadata__" map of strings), then the tensors' little-endian bytes,
 * contiguous with no holes. The header is padded with spaces to a multiple of
 * 8 bytes so the data starts aligned.
 */

export type SafetensorsDtype = "F32" | "F16" | "BF16";

const BYTES_PER_ELEMENT: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** Row-major, outermost first (PyTorch order). */
  readonly shape: readonly number[];
  /** Produces the tensor's bytes when its turn comes, so one tensor is in memory at a time. */
  readonly data: () => Promise<Uint8Array>;
}

/** Bytes of a tensor of `shape` in `dtype`. */
export function safetensorsByteLength(dtype: SafetensorsDtype, shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
}

/** The header bytes (length prefix included) for tensors stored in the given order. */
export function safetensorsHeader(
  tensors: readonly Omit<SafetensorsTensor, "data">[],
  metadata: Readonly<Record<string, string>> = {},
): Buffer {
  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) json.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name in json) throw new RangeError(`tensor ${t.name} appears twice`);
    const end = offset + safetensorsByteLength(t.dtype, t.shape);
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let text = JSON.stringify(json);
  text += " ".repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const body = Buffer.from(text, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([prefix, body]);
}

/**
 * Writes a safetensors file via a temporary file (a reader never sees half of
 * it). Returns the file size in bytes.
 * @throws RangeError when a tensor's data does not match its dtype and shape
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensor[],
  metadata: Readonly<Record<string, string>> = {},
): Promise<number> {
  const partial = `${path}.partial-${process.pid}`;
  const handle = await open(partial, "w");
  let done = false;
  try {
    const header = safetensorsHeader(tensors, metadata);
    await handle.write(header);
    let bytes = header.length;
    for (const t of tensors) {
      const data = await t.data();
      const expected = safetensorsByteLength(t.dtype, t.shape);
      if (data.byteLength !== expected) {
        throw new RangeError(
          `tensor ${t.name}: ${data.byteLength} bytes, expected ${expected} for ${t.dtype} [${t.shape.join(", ")}]`,
        );
      }
      await handle.write(data);
      bytes += data.byteLength;
    }
    await handle.close();
    done = true;
    await rename(partial, path);
    return bytes;
  } finally {
    if (!done) {
      await handle.close().catch(() => {});
      await rm(partial, { force: true });
    }
  }
}
