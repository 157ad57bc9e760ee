import { GGML_TYPE, type GgmlTypeInfo, ggmlTypeInfo } from "@strata/core";
import { describe, expect, it } from "vitest";
import { float16BitsToFloat32 } from "./float16.js";
import { dequantize, UnsupportedTensorTypeError } from "./ggml-dequant.js";

function type(id: number): GgmlTypeInfo {
  const info = ggmlTypeInfo(id);
  if (!info) throw new Error(`no type ${id}`);
  return info;
}

/** Little-endian bytes built field by field, as ggml-common.h lays out a block. */
function bytes(...parts: (["u16", number] | ["i8", number[]] | ["u8", number[]])[]): Uint8Array {
  const out: number[] = [];
  for (const [kind, value] of parts) {
    if (kind === "u16") out.push(value & 0xff, value >> 8);
    else for (const v of value) out.push(v & 0xff);
  }
  return Uint8Array.from(out);
}

const F16_HALF = 0x3800; // 0.5
const F16_MINUS_ONE = 0xbc00; // -1
const F16_QUARTER = 0x3400; // 0.25
const F16_TWO = 0x4000; // 2

describe("float16BitsToFloat32", () => {
  it.each([
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x0400, 2 ** -14],
    [0x8000, -0],
    [0x7c00, Number.POSITIVE_INFINITY],
  ])("0x%s is %s", (bits, value) => {
    expect(float16BitsToFloat32(bits)).toBe(value);
  });

  it("reads NaN", () => {
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
  });
});

describe("dequantize", () => {
  it("Q4_1: x[j] = d·low nibble + m, x[j+16] = d·high nibble + m", () => {
    const qs = Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4));
    const out = dequantize(
      type(GGML_TYPE.Q4_1),
      bytes(["u16", F16_HALF], ["u16", F16_MINUS_ONE], ["u8", qs]),
      32,
    );
    const expected = [
      ...Array.from({ length: 16 }, (_, j) => 0.5 * j - 1),
      ...Array.from({ length: 16 }, (_, j) => 0.5 * (15 - j) - 1),
    ];
    expect([...out]).toEqual(expected);
  });

  it("Q8_0: x = d·q with signed bytes, block after block", () => {
    const q1 = Array.from({ length: 32 }, (_, j) => j - 16);
    const q2 = [-128, 127, ...Array.from({ length: 30 }, () => 1)];
    const data = bytes(["u16", F16_QUARTER], ["i8", q1], ["u16", F16_TWO], ["i8", q2]);
    const out = dequantize(type(GGML_TYPE.Q8_0), data, 64);
    expect([...out.subarray(0, 32)]).toEqual(q1.map((q) => q * 0.25));
    expect([...out.subarray(32, 35)]).toEqual([-256, 254, 2]);
  });

  it("Q4_0: x[j] = d·(low nibble − 8), x[j+16] = d·(high nibble − 8)", () => {
    const out = dequantize(type(GGML_TYPE.Q4_0), bytes(["u16", F16_TWO], ["u8", Array(16).fill(0xf0)]), 32);
    expect([...out.subarray(0, 16)]).toEqual(Array(16).fill(-16));
    expect([...out.subarray(16)]).toEqual(Array(16).fill(14));
  });

  it("F16, BF16 and F32 read as the floats they encode", () => {
    expect([...dequantize(type(GGML_TYPE.F16), bytes(["u16", 0x3c00], ["u16", 0xc000]), 2)]).toEqual([1, -2]);
    expect([...dequantize(type(GGML_TYPE.BF16), bytes(["u16", 0x3f80], ["u16", 0xc0a0]), 2)]).toEqual([
      1, -5,
    ]);
    const f32 = new Float32Array([1.5, -3.25]);
    expect([...dequantize(type(GGML_TYPE.F32), new Uint8Array(f32.buffer), 2)]).toEqual([1.5, -3.25]);
  });

  it("refuses a type it does not know, naming it", () => {
    expect(() => dequantize(type(GGML_TYPE.Q6_K), new Uint8Array(210), 256)).toThrow(
      UnsupportedTensorTypeError,
    );
    expect(() => dequantize(type(GGML_TYPE.Q6_K), new Uint8Array(210), 256)).toThrow(/Q6_K is not supported/);
  });

  it("refuses data too short for the elements", () => {
    expect(() => dequantize(type(GGML_TYPE.Q4_1), new Uint8Array(19), 32)).toThrow(RangeError);
  });
});
