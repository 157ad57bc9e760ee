/**
 * llama.cpp's Hugging Face → GGUF conversion reorders the rows of q_proj and
 * k_proj for llama-architecture models: HF keeps each head's rotary pairs as
 * two halves (rows i and i + d/2 rotate together, "rotate_half"), llama.cpp
 * interleaves them (rows 2i and 2i + 1). `LlamaModel.permute` in llama.cpp's
 * conversion/llama.py reshapes rows to (heads, 2, d/2), swaps the last two axes
 * and flattens. The inverse below maps GGUF row r = h·d + 2i + j back to HF row
 * h·d + j·d/2 + i, so a converted model computes what the GGUF computes.
 */

/** The HF row index that GGUF row `row` came from, for heads of `headDim` rows. */
export function hfRowOfGgufRow(row: number, headDim: number): number {
  const head = Math.floor(row / headDim);
  const within = row % headDim;
  return head * headDim + (within & 1) * (headDim / 2) + (within >> 1);
}

/**
 * Rows of a [heads·headDim, cols] row-major matrix in HF's order, from GGUF's.
 * @throws RangeError when the shape does not split into heads of even size
 */
export function unpermuteRopeRows(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  if (!Number.isInteger(rows) || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    throw new RangeError(
      `cannot split ${data.length} values of ${cols} columns into ${heads} heads of even size`,
    );
  }
  const headDim = rows / heads;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const to = hfRowOfGgufRow(r, headDim);
    out.set(data.subarray(r * cols, (r + 1) * cols), to * cols);
  }
  return out;
}
