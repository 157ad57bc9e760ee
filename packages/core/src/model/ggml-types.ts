/**
 * GGML tensor types as they appear in GGUF tensor infos: numeric id, elements per
 * quantization block and bytes per block. A tensor of n elements (n a multiple of
 * the block size along its first dimension) takes n / blockSize * typeSize bytes.
 *
 * Source: ggml/include/ggml.h (`enum ggml_type`) and the `type_traits` table in
 * ggml/src/ggml.c with the block structs in ggml/src/ggml-common.h, llama.cpp
 * https://github.com/ggml-org/llama.cpp/blob/master/ggml/include/ggml.h
 * https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-common.h
 * Ids 4, 5, 31–33 and 36–38 were removed from ggml and are rejected.
 */
export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: string;
  /** Elements per quantization block (1 for plain floats and ints). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

/** Numeric ids of the GGML types, e.g. `GGML_TYPE.Q4_K === 12`. */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
  NVFP4: 40,
  Q1_0: 41,
  Q2_0: 42,
} as const;

export type GgmlTypeName = keyof typeof GGML_TYPE;

/** The super-block size of the k-quants and i-quants (`QK_K` in ggml-common.h). */
const QK_K = 256;

// [name, block size, bytes per block]; the byte counts follow the block structs
// in ggml-common.h, e.g. block_q4_K = 2×fp16 (d, dmin) + 12 scale bytes + 128 nibble bytes = 144.
const SIZES: ReadonlyArray<readonly [GgmlTypeName, number, number]> = [
  ["F32", 1, 4],
  ["F16", 1, 2],
  ["Q4_0", 32, 18],
  ["Q4_1", 32, 20],
  ["Q5_0", 32, 22],
  ["Q5_1", 32, 24],
  ["Q8_0", 32, 34],
  ["Q8_1", 32, 36],
  ["Q2_K", QK_K, 84],
  ["Q3_K", QK_K, 110],
  ["Q4_K", QK_K, 144],
  ["Q5_K", QK_K, 176],
  ["Q6_K", QK_K, 210],
  ["Q8_K", QK_K, 292],
  ["IQ2_XXS", QK_K, 66],
  ["IQ2_XS", QK_K, 74],
  ["IQ3_XXS", QK_K, 98],
  ["IQ1_S", QK_K, 50],
  ["IQ4_NL", 32, 18],
  ["IQ3_S", QK_K, 110],
  ["IQ2_S", QK_K, 82],
  ["IQ4_XS", QK_K, 136],
  ["I8", 1, 1],
  ["I16", 1, 2],
  ["I32", 1, 4],
  ["I64", 1, 8],
  ["F64", 1, 8],
  ["IQ1_M", QK_K, 56],
  ["BF16", 1, 2],
  ["TQ1_0", QK_K, 54],
  ["TQ2_0", QK_K, 66],
  ["MXFP4", 32, 17],
  ["NVFP4", 64, 36],
  ["Q1_0", 128, 18],
  ["Q2_0", 64, 18],
];

/** Every known GGML type keyed by its numeric id. */
export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map(
  SIZES.map(([name, blockSize, typeSize]) => [
    GGML_TYPE[name],
    { id: GGML_TYPE[name], name, blockSize, typeSize },
  ]),
);

/** The type info for a numeric id, or undefined for an unknown or removed type. */
export function ggmlTypeInfo(id: number): GgmlTypeInfo | undefined {
  return GGML_TYPES.get(id);
}

/**
 * Bytes of a tensor of the given type and shape (ggml order: dims[0] is the
 * innermost, contiguous dimension and must be a multiple of the block size).
 * Returns undefined when the shape does not fit the type's blocks.
 */
export function ggmlTensorBytes(info: GgmlTypeInfo, dims: readonly number[]): number | undefined {
  const inner = dims[0] ?? 1;
  if (inner % info.blockSize !== 0) return undefined;
  let rows = 1;
  for (const d of dims.slice(1)) rows *= d;
  return (inner / info.blockSize) * info.typeSize * rows;
}
