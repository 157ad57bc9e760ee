import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "./safetensors.js";

describe("safetensors writer", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-safetensors-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes an 8-aligned JSON header with contiguous offsets, then the data", async () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const b = new Float32Array([-1]);
    const path = join(dir, "two.safetensors");
    const size = await writeSafetensors(
      path,
      [
        { name: "a", dtype: "F32", shape: [2, 3], data: async () => new Uint8Array(a.buffer) },
        { name: "b", dtype: "F32", shape: [1], data: async () => new Uint8Array(b.buffer) },
      ],
      { format: "pt" },
    );
    const file = readFileSync(path);
    expect(file.length).toBe(size);
    const n = Number(file.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(file.subarray(8, 8 + n).toString("utf8"));
    expect(header).toEqual({
      __metadata__: { format: "pt" },
      a: { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] },
      b: { dtype: "F32", shape: [1], data_offsets: [24, 28] },
    });
    const data = file.subarray(8 + n);
    expect(data.length).toBe(28);
    expect([...new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + 28))]).toEqual([
      1, 2, 3, 4, 5, 6, -1,
    ]);
  });

  it("leaves no file behind when a tensor's bytes do not match its shape", async () => {
    const path = join(dir, "bad.safetensors");
    await expect(
      writeSafetensors(path, [{ name: "a", dtype: "F16", shape: [3], data: async () => new Uint8Array(4) }]),
    ).rejects.toThrow(/tensor a: 4 bytes, expected 6/);
    expect(readdirSync(dir).filter((f) => f.startsWith("bad"))).toEqual([]);
  });
});
