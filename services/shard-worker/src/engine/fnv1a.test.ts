import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FNV1A_OFFSET_BASIS, Fnv1a } from "./fnv1a.js";

/** The definition, one byte at a time with BigInt: slow and obviously right. */
function reference(bytes: Uint8Array): string {
  let hash = FNV1A_OFFSET_BASIS;
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash.toString(16).padStart(16, "0");
}

describe("FNV-1a 64 (the ggml-rpc cache key)", () => {
  it("matches the published test vectors", async () => {
    const h = await Fnv1a.create();
    const cases: [string, string][] = [
      ["", "cbf29ce484222325"],
      ["a", "af63dc4c8601ec8c"],
      ["foobar", "85944171f73967e8"],
    ];
    for (const [text, hex] of cases) {
      h.reset();
      h.update(Buffer.from(text));
      expect(h.hex()).toBe(hex);
    }
  });

  it("equals the byte-at-a-time definition for any bytes, in any number of updates", async () => {
    const h = await Fnv1a.create();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }), (parts) => {
        h.reset();
        for (const part of parts) h.update(part);
        expect(h.hex()).toBe(reference(Buffer.concat(parts)));
      }),
      { numRuns: 300 },
    );
  });
});
