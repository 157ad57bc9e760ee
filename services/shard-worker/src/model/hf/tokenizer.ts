import type { GgufHeader } from "@strata/core";
import { GgufMeta, GgufMetadataError } from "./gguf-meta.js";

/**
 * Hugging Face tokenizer files (`tokenizer.json`, `tokenizer_config.json`,
 * `special_tokens_map.json`) for a GGUF with a GPT-2 style byte-level BPE
 * vocabulary (`tokenizer.ggml.model = "gpt2"`): the GGUF's tokens are already
 * spelled in GPT-2's byte-to-unicode alphabet and its merges are "left right"
 * strings, so both carry over as they are.
 *
 * The pre-tokenizer must split text as llama.cpp does for the GGUF's
 * `tokenizer.ggml.pre` (src/llama-vocab.cpp, `regex_exprs`):
 * - "smollm": each digit alone (`\p{N}`), then GPT-2's regex — in tokenizers:
 *   Digits(individual_digits) then ByteLevel(use_regex);
 * - "default", "gpt-2": GPT-2's regex — ByteLevel(use_regex).
 * The tokenizer.json layout is the `tokenizers` library's serialization
 * (https://huggingface.co/docs/tokenizers/api/pre-tokenizers and /models).
 */

/** llama.cpp token types (llama.h `enum llama_token_type`). */
const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const BYTE_LEVEL = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };

const PRE_TOKENIZERS: Readonly<Record<string, unknown>> = {
  smollm: {
    type: "Sequence",
    pretokenizers: [{ type: "Digits", individual_digits: true }, BYTE_LEVEL],
  },
  default: BYTE_LEVEL,
  "gpt-2": BYTE_LEVEL,
};

export const SUPPORTED_PRE_TOKENIZERS = Object.keys(PRE_TOKENIZERS);

export interface HfTokenizerFiles {
  readonly tokenizer: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly specialTokensMap: Record<string, unknown>;
}

/**
 * @throws GgufMetadataError naming the key that is missing or not supported
 */
export function hfTokenizerFromGguf(header: GgufHeader, contextLength: number): HfTokenizerFiles {
  const meta = new GgufMeta(header);
  const model = meta.string("tokenizer.ggml.model");
  if (model !== "gpt2") {
    throw new GgufMetadataError(
      "tokenizer.ggml.model",
      `is "${model}"; only "gpt2" (byte-level BPE) converts here`,
    );
  }
  const pre = meta.string("tokenizer.ggml.pre", "default");
  const preTokenizer = PRE_TOKENIZERS[pre];
  if (preTokenizer === undefined) {
    throw new GgufMetadataError(
      "tokenizer.ggml.pre",
      `pre-tokenizer "${pre}" is not supported (supported: ${SUPPORTED_PRE_TOKENIZERS.join(", ")})`,
    );
  }
  const tokens = meta.strings("tokenizer.ggml.tokens");
  const types = meta.optionalInts("tokenizer.ggml.token_type") ?? tokens.map(() => TOKEN_TYPE.NORMAL);
  if (types.length !== tokens.length) {
    throw new GgufMetadataError(
      "tokenizer.ggml.token_type",
      `has ${types.length} entries for ${tokens.length} tokens`,
    );
  }
  const merges = meta.has("tokenizer.ggml.merges") ? meta.strings("tokenizer.ggml.merges") : [];

  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    if (Object.hasOwn(vocab, token)) {
      throw new GgufMetadataError(
        "tokenizer.ggml.tokens",
        `token ${JSON.stringify(token)} appears twice (ids ${vocab[token]} and ${id})`,
      );
    }
    vocab[token] = id;
  });

  const addedTokens = tokens.flatMap((content, id) => {
    const type = types[id];
    if (type !== TOKEN_TYPE.CONTROL && type !== TOKEN_TYPE.USER_DEFINED) return [];
    return [
      {
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: type === TOKEN_TYPE.CONTROL,
      },
    ];
  });

  const tokenAt = (key: string): string | undefined => {
    const id = meta.optionalInt(key);
    if (id === undefined) return undefined;
    const token = tokens[id];
    if (token === undefined)
      throw new GgufMetadataError(key, `id ${id} is beyond the ${tokens.length} tokens`);
    return token;
  };
  const bos = tokenAt("tokenizer.ggml.bos_token_id");
  const eos = tokenAt("tokenizer.ggml.eos_token_id");
  const unk = tokenAt("tokenizer.ggml.unknown_token_id");
  const pad = tokenAt("tokenizer.ggml.padding_token_id");
  // llama.cpp's default for BPE vocabularies is no BOS and no EOS unless the GGUF says so.
  const addBos = meta.bool("tokenizer.ggml.add_bos_token", false);
  const addEos = meta.bool("tokenizer.ggml.add_eos_token", false);

  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: postProcessor(addBos ? bos : undefined, addEos ? eos : undefined, vocab),
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(splitMerge),
    },
  };

  const special = {
    ...(bos !== undefined ? { bos_token: bos } : {}),
    ...(eos !== undefined ? { eos_token: eos } : {}),
    ...(unk !== undefined ? { unk_token: unk } : {}),
    ...(pad !== undefined ? { pad_token: pad } : {}),
  };
  const chatTemplate = meta.optionalString("tokenizer.chat_template");
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    model_max_length: contextLength,
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
    ...special,
    additional_special_tokens: addedTokens
      .filter((t) => t.special && !Object.values(special).includes(t.content))
      .map((t) => t.content),
    ...(chatTemplate !== undefined ? { chat_template: chatTemplate } : {}),
  };
  return { tokenizer, tokenizerConfig, specialTokensMap: special };
}

/**
 * llama.cpp splits a merge at the first space after its first character
 * (`word.find(' ', 1)` in llama-vocab.cpp), so a merge whose left part starts
 * with a space still splits right.
 */
function splitMerge(merge: string): [string, string] {
  const at = merge.indexOf(" ", 1);
  if (at < 0)
    throw new GgufMetadataError("tokenizer.ggml.merges", `merge ${JSON.stringify(merge)} has no space`);
  return [merge.slice(0, at), merge.slice(at + 1)];
}

/** Adds BOS/EOS around each sequence as llama.cpp does when the GGUF asks for them. */
function postProcessor(
  bos: string | undefined,
  eos: string | undefined,
  vocab: Readonly<Record<string, number>>,
): Record<string, unknown> {
  const byteLevel = { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true };
  if (bos === undefined && eos === undefined) return byteLevel;
  const piece = (id: "A" | "B") => ({ Sequence: { id, type_id: 0 } });
  const mark = (token: string) => ({ SpecialToken: { id: token, type_id: 0 } });
  const wrap = (id: "A" | "B") => [
    ...(bos !== undefined ? [mark(bos)] : []),
    piece(id),
    ...(eos !== undefined ? [mark(eos)] : []),
  ];
  const specialTokens: Record<string, unknown> = {};
  for (const token of [bos, eos]) {
    if (token !== undefined) specialTokens[token] = { id: token, ids: [vocab[token]], tokens: [token] };
  }
  return {
    type: "Sequence",
    processors: [
      byteLevel,
      {
        type: "TemplateProcessing",
        single: wrap("A"),
        pair: [...wrap("A"), ...wrap("B")],
        special_tokens: specialTokens,
      },
    ],
  };
}
