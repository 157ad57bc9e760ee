import { describe, expect, it } from "vitest";
import { BYTE_VOCAB_SIZE, byteVocabulary } from "./byte-vocab.js";

describe("the generated model's byte vocabulary", () => {
  const { tokens, tokenTypes } = byteVocabulary();

  it("has one distinct token per byte, then BOS and EOS as control tokens", () => {
    expect(tokens).toHaveLength(BYTE_VOCAB_SIZE);
    expect(new Set(tokens.slice(0, 256)).size).toBe(256);
    expect(tokenTypes.slice(256)).toEqual([3, 3]);
  });

  it("marks exactly the bytes that never occur in UTF-8 as unused, so llama.cpp never renders them", () => {
    const unused = tokenTypes.flatMap((t, id) => (t === 5 ? [id] : []));
    const never = [0xc0, 0xc1, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff];
    expect(unused).toEqual(never);
    // Every other byte is a normal token: any valid UTF-8 text still tokenizes.
    expect(tokenTypes.slice(0, 256).filter((t) => t === 1)).toHaveLength(256 - never.length);
  });
});
