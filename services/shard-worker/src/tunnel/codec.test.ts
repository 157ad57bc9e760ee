import { fileURLToPath } from "node:url";
import { loadSync } from "@grpc/proto-loader";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeDataMessage, encodeDataMessage, TunnelCodecError } from "./codec.js";

const protoPath = fileURLToPath(new URL("../../../../proto/strata/v1/tunnel.proto", import.meta.url));
const definition = loadSync(protoPath);
const open = (
  definition["strata.v1.TunnelService"] as Record<
    string,
    { requestSerialize: (v: object) => Buffer; responseDeserialize: (b: Buffer) => { data: Buffer } }
  >
).Open;

describe("tunnel codec", () => {
  it("encodes exactly what protobuf encodes for tunnel.proto", () => {
    if (!open) throw new Error("Open method missing from tunnel.proto");
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), (bytes) => {
        const data = Buffer.from(bytes);
        expect(encodeDataMessage(data).equals(open.requestSerialize({ data }))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("decodes what protobuf encodes, as a view without copying", () => {
    if (!open) throw new Error("Open method missing from tunnel.proto");
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), (bytes) => {
        const wire = open.requestSerialize({ data: Buffer.from(bytes) });
        const decoded = decodeDataMessage(wire);
        expect(Buffer.from(bytes).equals(decoded)).toBe(true);
        expect(decoded.buffer).toBe(wire.buffer);
      }),
      { numRuns: 60 },
    );
  });

  it("skips unknown fields and rejects truncated input", () => {
    // field 2 varint 150, then data = "hi"
    const wire = Buffer.from([0x10, 0x96, 0x01, 0x0a, 0x02, 0x68, 0x69]);
    expect(decodeDataMessage(wire).toString()).toBe("hi");
    expect(() => decodeDataMessage(Buffer.from([0x0a, 0x05, 0x68]))).toThrow(TunnelCodecError);
  });

  it("decodes the empty message as no bytes", () => {
    expect(decodeDataMessage(Buffer.alloc(0)).length).toBe(0);
  });
});
