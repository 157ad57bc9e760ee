/**
 * A byte-level BPE vocabulary that llama.cpp accepts (`tokenizer.ggml.model =
 * "gpt2"`): one token per byte spelled with GPT-2's byte-to-unicode table, no
 * merges, plus BOS and EOS control tokens. Every UTF-8 text round-trips.
 *
 * The bytes that never occur in UTF-8 (0xC0, 0xC1, 0xF5-0xFF) are UNUSED
 * tokens: no text tokenizes to them, and llama.cpp renders them as nothing.
 * A model with random weights samples them now and then; rendered as bytes
 * they made llama-server answer 500 ("invalid UTF-8 byte ... 0xC1").
 * Table reference: https://github.com/openai/gpt-2/blob/master/src/encoder.py (bytes_to_unicode)
 */

/** llama.cpp token types (llama.h `enum llama_token_type`). */
const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_UNUSED = 5;

export const BYTE_VOCAB_BOS_ID = 256;
export const BYTE_VOCAB_EOS_ID = 257;
export const BYTE_VOCAB_SIZE = 258;

function neverInUtf8(byte: number): boolean {
  return byte === 0xc0 || byte === 0xc1 || byte >= 0xf5;
}

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
  const tokenTypes = tokens.map((_, id) => {
    if (id >= 256) return TOKEN_TYPE_CONTROL;
    return neverInUtf8(id) ? TOKEN_TYPE_UNUSED : TOKEN_TYPE_NORMAL;
  });
  return { tokens, tokenTypes };
}
