/**
 * A byte-level BPE vocabulary that llama.cpp accepts (`tokenizer.ggml.model =
 * "gpt2"`): one token per byte spelled with GPT-2's byte-to-unicode table, no
 * merges, plus BOS and EOS control tokens. Every UTF-8 text round-trips.
 * Table reference: https://github.com/openai/gpt-2/blob/master/src/encoder.py (bytes_to_unicode)
 */

/** llama.cpp token types (llama.h `enum llama_token_type`). */
const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

export const BYTE_VOCAB_BOS_ID = 256;
export const BYTE_VOCAB_EOS_ID = 257;
export const BYTE_VOCAB_SIZE = 258;

function byteToUnicode(): string[] {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const table: string[] = new Array(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (direct.includes(b)) table[b] = String.fromCodePoint(b);
    else table[b] = String.fromCodePoint(256 + shifted++);
  }
  return table;
}

export interface ByteVocabulary {
  readonly tokens: readonly string[];
  readonly tokenTypes: readonly number[];
}

export function byteVocabulary(): ByteVocabulary {
  const tokens = [...byteToUnicode(), "<|bos|>", "<|eos|>"];
  const tokenTypes = tokens.map((_, id) => (id >= 256 ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL));
  return { tokens, tokenTypes };
}
