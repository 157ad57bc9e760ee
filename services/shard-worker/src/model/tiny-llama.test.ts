import { createHash } from "node:crypto";
import { modelSpecFromGguf, parseGguf } from "@strata/core";
import { describe, expect, it } from "vitest";
import { float32ToFloat16Bits } from "./float16.js";
import { ModelShapeError, tinyLlamaGgufChunks } from "./tiny-llama.js";

function generate(options: Parameters<typeof tinyLlamaGgufChunks>[0]): Buffer {
  return Buffer.concat([...tinyLlamaGgufChunks(options)]);
}

describe("tiny llama GGUF generator", () => {
  it("writes a header the GGUF parser reads back as the requested shape", () => {
    const bytes = generate({ layers: 3, hidden: 64, heads: 4, kvHeads: 2, ffn: 96 });
    const header = parseGguf(bytes, { source: "tiny.gguf" });
    const spec = modelSpecFromGguf(header);
    expect(spec).toMatchObject({ numLayers: 3, hiddenSize: 64, numHeads: 4, numKvHeads: 2 });
    expect(header.metadata.get("tokenizer.ggml.model")).toBe("gpt2");
    expect(header.metadata.get("tokenizer.ggml.tokens")).toHaveLength(258);
    // 1 embedding + 9 per block + output norm + output
    expect(header.tensors).toHaveLength(1 + 3 * 9 + 2);
  });

  it("lays tensor data out exactly to the end of the file", () => {
    for (const tensorType of ["f32", "f16"] as const) {
      const bytes = generate({ layers: 2, hidden: 32, heads: 4, kvHeads: 4, ffn: 48, tensorType });
      const header = parseGguf(bytes);
      const last = header.tensors.at(-1);
      if (!last) throw new Error("no tensors");
      const elementBytes = tensorType === "f32" ? 4 : 2;
      const lastBytes = last.dims.reduce((a, b) => a * b, 1) * elementBytes;
      expect(bytes.length).toBe(header.dataOffset + Math.ceil((last.offset + lastBytes) / 32) * 32);
    }
  });

  it("is deterministic per seed and differs across seeds", () => {
    const hash = (seed: number) =>
      createHash("sha256")
        .update(generate({ layers: 2, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, seed }))
        .digest("hex");
    expect(hash(7)).toBe(hash(7));
    expect(hash(7)).not.toBe(hash(8));
  });

  it("rejects shapes llama.cpp cannot build, naming the option", () => {
    expect(() => generate({ hidden: 100, heads: 8 })).toThrow(ModelShapeError);
    let thrown: unknown;
    try {
      generate({ heads: 8, kvHeads: 3 });
    } catch (err: unknown) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ModelShapeError);
    expect((thrown as ModelShapeError).field).toBe("kvHeads");
  });

  it("converts floats to IEEE binary16", () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(0.1)).toBe(0x2e66);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(5.96e-8)).toBe(0x0001);
  });
});
