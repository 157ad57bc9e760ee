import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeGgufHeader, GGUF_VALUE_TYPE, parseGguf } from "@strata/core";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyLlamaGguf } from "../write-model.js";
import { convertGgufToHf, HF_FILES, ModelConvertError } from "./convert.js";
import { hfRowOfGgufRow } from "./rope-order.js";

/** The tensors of a safetensors file, as float32 arrays, by name. */
function readSafetensors(path: string): Map<string, { shape: number[]; values: Float32Array }> {
  const file = readFileSync(path);
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString("utf8")) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    expect(t.dtype).toBe("F32");
    const bytes = file.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.set(name, { shape: t.shape, values: new Float32Array(Uint8Array.from(bytes).buffer) });
  }
  return out;
}

/** A GGUF f32 tensor's values straight from the file. */
function ggufTensor(path: string, name: string): Float32Array {
  const file = readFileSync(path);
  const header = parseGguf(file);
  const t = header.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no ${name}`);
  const start = header.dataOffset + t.offset;
  return new Float32Array(Uint8Array.from(file.subarray(start, start + t.bytes)).buffer);
}

describe("GGUF → Hugging Face conversion (generated llama models)", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-convert-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const shape = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 96, seed: 3, contextLength: 512 };

  it("writes every file, with the config read from the header", async () => {
    const gguf = join(dir, "tiny.gguf");
    await writeTinyLlamaGguf(gguf, shape);
    const out = join(dir, "tiny-hf");
    const converted = await convertGgufToHf(gguf, out, { log: () => {} });
    expect([...converted.files].sort()).toEqual([...HF_FILES].sort());
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["LlamaForCausalLM"],
      hidden_size: 64,
      intermediate_size: 96,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      vocab_size: 258,
      max_position_embeddings: 512,
      rms_norm_eps: 0.00001,
      rope_theta: 10000,
      tie_word_embeddings: false,
      bos_token_id: 256,
      eos_token_id: 257,
    });
    const tokenizerConfig = JSON.parse(readFileSync(join(out, "tokenizer_config.json"), "utf8"));
    expect(tokenizerConfig).toMatchObject({
      bos_token: "<|bos|>",
      eos_token: "<|eos|>",
      add_bos_token: true,
    });
  });

  it.each(["f32", "f16"] as const)(
    "keeps every %s weight, with q_proj and k_proj rows back in Hugging Face's rotary order",
    async (tensorType) => {
      const gguf = join(dir, `tiny-${tensorType}.gguf`);
      await writeTinyLlamaGguf(gguf, { ...shape, tensorType });
      const out = join(dir, `tiny-${tensorType}-hf`);
      await convertGgufToHf(gguf, out, { log: () => {} });
      const tensors = readSafetensors(join(out, "model.safetensors"));
      expect(tensors.size).toBe(1 + 9 * shape.layers + 2);
      expect(tensors.get("model.layers.1.mlp.down_proj.weight")?.shape).toEqual([64, 96]);
      expect(tensors.get("model.layers.0.self_attn.k_proj.weight")?.shape).toEqual([32, 64]);
      expect(tensors.get("lm_head.weight")?.shape).toEqual([258, 64]);
      if (tensorType === "f32") {
        const down = ggufTensor(gguf, "blk.1.ffn_down.weight");
        expect(tensors.get("model.layers.1.mlp.down_proj.weight")?.values).toEqual(down);
        for (const [gName, hfName, rows] of [
          ["blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", 64],
          ["blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight", 32],
        ] as const) {
          const g = ggufTensor(gguf, gName);
          const hf = tensors.get(hfName)?.values ?? new Float32Array();
          const headDim = 16;
          for (let r = 0; r < rows; r++) {
            const to = hfRowOfGgufRow(r, headDim);
            expect(hf.subarray(to * 64, (to + 1) * 64)).toEqual(g.subarray(r * 64, (r + 1) * 64));
          }
          expect(hf).not.toEqual(g);
        }
      }
    },
  );

  it("refuses a folder that is not empty, and a file that is not a GGUF, in one line", async () => {
    const gguf = join(dir, "tiny.gguf");
    const full = join(dir, "full");
    mkdirSync(full);
    writeFileSync(join(full, "x"), "x");
    await expect(convertGgufToHf(gguf, full, { log: () => {} })).rejects.toThrow(/full is not empty/);
    const text = join(dir, "text.gguf");
    writeFileSync(text, "not a model\n".repeat(10));
    await expect(convertGgufToHf(text, join(dir, "out-text"), { log: () => {} })).rejects.toThrow(
      /not a GGUF file/,
    );
  });

  it("refuses a non-llama architecture, naming the key, and leaves no folder", async () => {
    const gguf = join(dir, "gpt2.gguf");
    writeFileSync(
      gguf,
      encodeGgufHeader([{ key: "general.architecture", type: GGUF_VALUE_TYPE.STRING, value: "gpt2" }], []),
    );
    const out = join(dir, "out-gpt2");
    const error = await convertGgufToHf(gguf, out, { log: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelConvertError);
    expect((error as Error).message).toMatch(/general\.architecture: is "gpt2"; only "llama"/);
    expect(() => readFileSync(join(out, "config.json"))).toThrow(/ENOENT/);
  });
});
