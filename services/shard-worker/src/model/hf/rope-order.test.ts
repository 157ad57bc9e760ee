import { describe, expect, it } from "vitest";
import { hfRowOfGgufRow, unpermuteRopeRows } from "./rope-order.js";

/**
 * llama.cpp's permute, written out independently: HF row h·d + j·d/2 + i goes to
 * GGUF row h·d + 2i + j (reshape to (heads, 2, d/2), swap the last two axes).
 */
function permuteLikeLlamaCpp(hf: Float32Array, heads: number, cols: number): Float32Array {
  const rows = hf.length / cols;
  const d = rows / heads;
  const out = new Float32Array(hf.length);
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < 2; j++)
      for (let i = 0; i < d / 2; i++) {
        const from = h * d + j * (d / 2) + i;
        const to = h * d + 2 * i + j;
        out.set(hf.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return out;
}

describe("q/k rotary row order", () => {
  it("puts one head of 4 rows back as GGUF rows 0, 2, 1, 3", () => {
    expect([0, 1, 2, 3].map((r) => hfRowOfGgufRow(r, 4))).toEqual([0, 2, 1, 3]);
    const gguf = Float32Array.from([10, 11, 20, 21, 30, 31, 40, 41]); // 4 rows × 2 columns
    expect([...unpermuteRopeRows(gguf, 1, 2)]).toEqual([10, 11, 30, 31, 20, 21, 40, 41]);
  });

  it.each([
    [9, 64, 3],
    [3, 64, 5],
    [4, 32, 1],
  ])("undoes llama.cpp's permutation for %i heads of %i rows", (heads, headDim, cols) => {
    const hf = Float32Array.from({ length: heads * headDim * cols }, (_, k) => k);
    expect([...unpermuteRopeRows(permuteLikeLlamaCpp(hf, heads, cols), heads, cols)]).toEqual([...hf]);
  });

  it("refuses rows that do not split into heads of even size", () => {
    expect(() => unpermuteRopeRows(new Float32Array(12), 2, 2)).toThrow(RangeError);
  });
});
