import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  encodeGgufHeader,
  GGML_TYPE,
  GGUF_VALUE_TYPE,
  type GgufEntry,
  type GgufTensorToWrite,
} from "@strata/core";

import { STRATA_BIN } from "../strata-bin.js";

export { STRATA_BIN };

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI asynchronously (a blocking spawn would stall the test runner's own messages). */
export function strata(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [STRATA_BIN, ...args],
      { encoding: "utf8", timeout: 60_000 },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === "number" ? err.code : null;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/**
 * A published config.json from packages/core/src/model/hf-configs (its SOURCES.md
 * says where each file was read), e.g. `deepseek-ai--DeepSeek-V3.json`.
 */
export function publishedConfig(file: string): Record<string, unknown> {
  const url = new URL(`../../../packages/core/src/model/hf-configs/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as Record<string, unknown>;
}

export const DEEPSEEK_V3_CONFIG = publishedConfig("deepseek-ai--DeepSeek-V3.json");

/** A small llama-shaped model as Hugging Face writes its config.json. */
export const TINY_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  num_hidden_layers: 6,
  hidden_size: 256,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  intermediate_size: 640,
  vocab_size: 512,
  tie_word_embeddings: false,
  max_position_embeddings: 4096,
  torch_dtype: "bfloat16",
};

/**
 * The same model's GGUF header, tensors in Q8_0 (norms in F32), as llama.cpp names them;
 * `tokenizerTokens` pads the header with a tokenizer vocabulary of that many entries.
 */
export function tinyGgufHeader(cfg = TINY_CONFIG, tokenizerTokens = 0): Uint8Array {
  const T = GGUF_VALUE_TYPE;
  const h = cfg.hidden_size;
  const kv = (h / cfg.num_attention_heads) * cfg.num_key_value_heads;
  const f = cfg.intermediate_size;
  const meta: GgufEntry[] = [
    { key: "general.architecture", type: T.STRING, value: "llama" },
    { key: "general.name", type: T.STRING, value: "tiny" },
    { key: "llama.block_count", type: T.UINT32, value: cfg.num_hidden_layers },
    { key: "llama.context_length", type: T.UINT32, value: cfg.max_position_embeddings },
    { key: "llama.embedding_length", type: T.UINT32, value: h },
    { key: "llama.feed_forward_length", type: T.UINT32, value: f },
    { key: "llama.attention.head_count", type: T.UINT32, value: cfg.num_attention_heads },
    { key: "llama.attention.head_count_kv", type: T.UINT32, value: cfg.num_key_value_heads },
    { key: "llama.vocab_size", type: T.UINT32, value: cfg.vocab_size },
    {
      // A large tokenizer makes a header longer than the CLI's first read.
      key: "tokenizer.ggml.tokens",
      type: T.ARRAY,
      itemType: T.STRING,
      value: Array.from({ length: tokenizerTokens }, (_, i) => `token-${String(i).padStart(16, "0")}`),
    },
  ];
  const shapes: Array<[string, number[], number]> = [
    ["token_embd.weight", [h, cfg.vocab_size], GGML_TYPE.Q8_0],
  ];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    shapes.push(
      [`blk.${i}.attn_norm.weight`, [h], GGML_TYPE.F32],
      [`blk.${i}.attn_q.weight`, [h, h], GGML_TYPE.Q8_0],
      [`blk.${i}.attn_k.weight`, [h, kv], GGML_TYPE.Q8_0],
      [`blk.${i}.attn_v.weight`, [h, kv], GGML_TYPE.Q8_0],
      [`blk.${i}.attn_output.weight`, [h, h], GGML_TYPE.Q8_0],
      [`blk.${i}.ffn_norm.weight`, [h], GGML_TYPE.F32],
      [`blk.${i}.ffn_gate.weight`, [h, f], GGML_TYPE.Q8_0],
      [`blk.${i}.ffn_up.weight`, [h, f], GGML_TYPE.Q8_0],
      [`blk.${i}.ffn_down.weight`, [f, h], GGML_TYPE.Q8_0],
    );
  }
  shapes.push(
    ["output_norm.weight", [h], GGML_TYPE.F32],
    ["output.weight", [h, cfg.vocab_size], GGML_TYPE.Q8_0],
  );
  const tensors: GgufTensorToWrite[] = shapes.map(([name, dims, type]) => ({ name, dims, type, offset: 0 }));
  return encodeGgufHeader(meta, tensors);
}

/** A temporary directory for fixture files, removed by `cleanup`. */
export function fixtureDir(): {
  dir: string;
  write: (name: string, data: string | Uint8Array) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), "strata-plan-"));
  return {
    dir,
    write: (name, data) => {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, data);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
