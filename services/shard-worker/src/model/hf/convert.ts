import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type GgufTensorInfo, InputError } from "@strata/core";
import { canDequantize, DEQUANTIZABLE_TYPES, dequantize } from "../ggml-dequant.js";
import { GgufFile } from "../gguf-file.js";
import { GgufMetadataError } from "./gguf-meta.js";
import { type LlamaShape, llamaGenerationConfig, llamaHfConfig, llamaShapeFromGguf } from "./llama-config.js";
import { unpermuteRopeRows } from "./rope-order.js";
import { type SafetensorsTensor, writeSafetensors } from "./safetensors.js";
import { hfTokenizerFromGguf } from "./tokenizer.js";

/**
 * `strata model convert --to hf IN.gguf OUT/`: a llama-architecture GGUF as a
 * Hugging Face folder that vLLM and transformers load — config.json,
 * generation_config.json, model.safetensors (float32: every supported GGUF
 * type dequantizes exactly into it), tokenizer.json, tokenizer_config.json
 * (with the GGUF's chat template) and special_tokens_map.json. q_proj and
 * k_proj rows go back to HF's rotary order (see rope-order.ts).
 */

/** The conversion cannot proceed; `message` is one line naming the input and what is wrong. */
export class ModelConvertError extends Error {
  override readonly name = "ModelConvertError";
}

export interface ConvertOptions {
  readonly log: (line: string) => void;
}

export interface ConvertedModel {
  readonly dir: string;
  readonly shape: LlamaShape;
  readonly files: readonly string[];
  readonly safetensorsBytes: number;
}

/** The files a converted folder holds. */
export const HF_FILES = [
  "config.json",
  "generation_config.json",
  "model.safetensors",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
] as const;

const LAYER_TENSOR = /^blk\.(\d+)\.(\w+)\.weight$/;

/** GGUF block tensor → HF module, in llama.cpp's names (src/llama-arch.cpp, LLM_ARCH_LLAMA). */
const LAYER_NAMES: Readonly<Record<string, string>> = {
  attn_norm: "input_layernorm",
  attn_q: "self_attn.q_proj",
  attn_k: "self_attn.k_proj",
  attn_v: "self_attn.v_proj",
  attn_output: "self_attn.o_proj",
  ffn_norm: "post_attention_layernorm",
  ffn_gate: "mlp.gate_proj",
  ffn_up: "mlp.up_proj",
  ffn_down: "mlp.down_proj",
};

const TOP_NAMES: Readonly<Record<string, string>> = {
  "token_embd.weight": "model.embed_tokens.weight",
  "output_norm.weight": "model.norm.weight",
  "output.weight": "lm_head.weight",
};

interface PlannedTensor {
  readonly gguf: GgufTensorInfo;
  readonly hfName: string;
  /** Heads whose rows to put back in HF rotary order, for q_proj and k_proj. */
  readonly ropeHeads?: number;
}

function planTensors(tensors: readonly GgufTensorInfo[], shape: LlamaShape, source: string): PlannedTensor[] {
  const planned: PlannedTensor[] = [];
  for (const t of tensors) {
    const top = TOP_NAMES[t.name];
    const layer = LAYER_TENSOR.exec(t.name);
    const part = layer ? LAYER_NAMES[layer[2] ?? ""] : undefined;
    if (top === undefined && part === undefined) {
      throw new ModelConvertError(`${source}: tensor ${t.name} has no Hugging Face llama counterpart`);
    }
    if (!canDequantize(t.type)) {
      throw new ModelConvertError(
        `${source}: tensor ${t.name} is ${t.type.name}; the converter reads ${DEQUANTIZABLE_TYPES.join(", ")}`,
      );
    }
    if (layer && Number(layer[1]) >= shape.layers) {
      throw new ModelConvertError(`${source}: tensor ${t.name} is beyond llama.block_count ${shape.layers}`);
    }
    const hfName = top ?? `model.layers.${layer?.[1]}.${part}.weight`;
    const ropeHeads =
      layer?.[2] === "attn_q" ? shape.heads : layer?.[2] === "attn_k" ? shape.kvHeads : undefined;
    planned.push({ gguf: t, hfName, ...(ropeHeads !== undefined ? { ropeHeads } : {}) });
  }
  const names = new Set(planned.map((p) => p.hfName));
  const required = ["model.embed_tokens.weight", "model.norm.weight"];
  for (let i = 0; i < shape.layers; i++) {
    for (const part of Object.values(LAYER_NAMES)) required.push(`model.layers.${i}.${part}.weight`);
  }
  const missing = required.find((n) => !names.has(n));
  if (missing !== undefined) throw new ModelConvertError(`${source}: has no tensor for ${missing}`);
  return planned;
}

/** PyTorch order (outermost first) of a tensor stored in ggml order (innermost first). */
function hfShape(t: GgufTensorInfo): number[] {
  return [...t.dims].reverse();
}

/**
 * Converts `input` into the folder `outDir`, which must not exist or be empty.
 * The folder appears whole or not at all (it is written beside, then renamed).
 * @throws ModelConvertError (one line) for an unreadable or unsupported GGUF or a non-empty `outDir`
 */
export async function convertGgufToHf(
  input: string,
  outDir: string,
  options: ConvertOptions,
): Promise<ConvertedModel> {
  const { log } = options;
  if (existsSync(outDir) && (await readdir(outDir)).length > 0) {
    throw new ModelConvertError(`${outDir} is not empty; give a new or empty folder`);
  }
  let file: GgufFile;
  try {
    file = await GgufFile.open(input);
  } catch (err: unknown) {
    if (err instanceof InputError) throw new ModelConvertError(err.message, { cause: err });
    const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ModelConvertError(`${input}: cannot read: ${code}`, { cause: err });
  }
  const work = join(dirname(outDir), `.${basename(outDir)}.partial-${process.pid}`);
  try {
    let shape: LlamaShape;
    let tokenizer: ReturnType<typeof hfTokenizerFromGguf>;
    try {
      shape = llamaShapeFromGguf(file.header);
      tokenizer = hfTokenizerFromGguf(file.header, shape.contextLength);
    } catch (err: unknown) {
      if (err instanceof GgufMetadataError)
        throw new ModelConvertError(`${input}: ${err.message}`, { cause: err });
      throw err;
    }
    const planned = planTensors(file.header.tensors, shape, input);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });

    let done = 0;
    const tensors: SafetensorsTensor[] = planned.map((p) => ({
      name: p.hfName,
      dtype: "F32",
      shape: hfShape(p.gguf),
      data: async () => {
        const elements = p.gguf.dims.reduce((a, b) => a * b, 1);
        let values = dequantize(p.gguf.type, await file.tensorBytes(p.gguf), elements);
        if (p.ropeHeads !== undefined) values = unpermuteRopeRows(values, p.ropeHeads, p.gguf.dims[0] ?? 1);
        done++;
        if (done % 20 === 0 || done === planned.length) log(`converted ${done} of ${planned.length} tensors`);
        // Float32Array bytes are little-endian on every platform Node runs on here (x86-64, arm64).
        return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      },
    }));
    log(`writing ${planned.length} tensors as float32 safetensors`);
    const safetensorsBytes = await writeSafetensors(join(work, "model.safetensors"), tensors, {
      format: "pt",
    });

    const json = (name: string, value: unknown) =>
      writeFile(join(work, name), `${JSON.stringify(value, null, 2)}\n`);
    await json("config.json", llamaHfConfig(shape, "float32"));
    await json("generation_config.json", llamaGenerationConfig(shape));
    await json("tokenizer.json", tokenizer.tokenizer);
    await json("tokenizer_config.json", tokenizer.tokenizerConfig);
    await json("special_tokens_map.json", tokenizer.specialTokensMap);

    if (existsSync(outDir)) await rm(outDir, { recursive: true }); // empty, checked above
    await rename(work, outDir);
    log(`wrote ${outDir} (${(safetensorsBytes / 1024 / 1024).toFixed(1)} MiB of weights)`);
    return { dir: outDir, shape, files: HF_FILES, safetensorsBytes };
  } finally {
    await file.close();
    await rm(work, { recursive: true, force: true });
  }
}
