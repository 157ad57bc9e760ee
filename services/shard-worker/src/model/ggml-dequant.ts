import { GGML_TYPE, type GgmlTypeInfo } from "@strata/core";
import { float16BitsToFloat32 } from "./float16.js";

/**
 * Dequantizes GGML tensor data to float32, for the types llama-architecture
 * GGUFs commonly hold whole or in part: F32, F16, BF16, Q8_0, Q4_0 and Q4_1.
 * The block layouts and formulas follow `dequantize_row_q8_0/q4_0/q4_1` in
 * llama.cpp's ggml/src/ggml-quants.c and the structs in ggml-common.h:
 * - Q8_0 (34 bytes per 32): fp16 d, 32 × int8 q; x = d·q
 * - Q4_0 (18 bytes per 32): fp16 d, 16 bytes of nibbles; x[j] = d·(lo(j) − 8), x[j+16] = d·(hi(j) − 8)
 * - Q4_1 (20 bytes per 32): fp16 d, fp16 m, 16 bytes of nibbles; x[j] = d·lo(j) + m, x[j+16] = d·hi(j) + m
 * Every product of a 4- or 8-bit integer and an fp16 is exact in float32, so
 * the results equal ggml's bit for bit.
 */

/** The tensor type has no dequantizer here; `type` is its ggml name. */
export class UnsupportedTensorTypeError extends Error {
  override readonly name = "UnsupportedTensorTypeError";
  constructor(readonly type: string) {
    super(`tensor type ${type} is not supported (supported: ${DEQUANTIZABLE_TYPES.join(", ")})`);
  }
}

export const DEQUANTIZABLE_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1"] as const;

const QK = 32;

/**
 * `elements` float32 values from `data`, the raw bytes of a tensor of `type`.
 * @throws UnsupportedTensorTypeError for any other type
 * @throws RangeError when `data` is shorter than the elements need
 */
export function dequantize(type: GgmlTypeInfo, data: Uint8Array, elements: number): Float32Array {
  const need = (elements / type.blockSize) * type.typeSize;
  if (elements % type.blockSize !== 0 || data.byteLength < need) {
    throw new RangeError(`${type.name}: ${data.byteLength} bytes cannot hold ${elements} elements`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(elements);
  switch (type.id) {
    case GGML_TYPE.F32:
      for (let i = 0; i < elements; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case GGML_TYPE.F16:
      for (let i = 0; i < elements; i++) out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
      return out;
    case GGML_TYPE.BF16: {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < elements; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case GGML_TYPE.Q8_0:
      for (let b = 0; b < elements / QK; b++) {
        const at = b * 34;
        const d = float16BitsToFloat32(view.getUint16(at, true));
        for (let j = 0; j < QK; j++) out[b * QK + j] = d * view.getInt8(at + 2 + j);
      }
      return out;
    case GGML_TYPE.Q4_0:
      for (let b = 0; b < elements / QK; b++) {
        const at = b * 18;
        const d = float16BitsToFloat32(view.getUint16(at, true));
        for (let j = 0; j < QK / 2; j++) {
          const q = data[at + 2 + j] ?? 0;
          out[b * QK + j] = d * ((q & 0x0f) - 8);
          out[b * QK + j + QK / 2] = d * ((q >> 4) - 8);
        }
      }
      return out;
    case GGML_TYPE.Q4_1:
      for (let b = 0; b < elements / QK; b++) {
        const at = b * 20;
        const d = float16BitsToFloat32(view.getUint16(at, true));
        const m = float16BitsToFloat32(view.getUint16(at + 2, true));
        for (let j = 0; j < QK / 2; j++) {
          const q = data[at + 4 + j] ?? 0;
          out[b * QK + j] = d * (q & 0x0f) + m;
          out[b * QK + j + QK / 2] = d * (q >> 4) + m;
        }
      }
      return out;
    default:
      throw new UnsupportedTensorTypeError(type.name);
  }
}

/** True when `dequantize` handles the type. */
export function canDequantize(type: GgmlTypeInfo): boolean {
  return (DEQUANTIZABLE_TYPES as readonly string[]).includes(type.name);
}
