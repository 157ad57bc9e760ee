import { fileURLToPath } from "node:url";
import { loadSync } from "@grpc/proto-loader";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TunnelCodecError } from "./codec.js";
import { DataMessageReader, encodeGrpcDataMessage } from "./grpc-wire.js";

const protoPath = fileURLToPath(new URL("../../../../proto/strata/v1/tunnel.proto", import.meta.url));
const open = (
  loadSync(protoPath)["strata.v1.TunnelService"] as Record<
    string,
    { requestSerialize: (v: object) => Buffer }
  >
).Open;

function serialize(data: Buffer): Buffer {
  if (!open) throw new Error("Open method missing from tunnel.proto");
  return open.requestSerialize({ data });
}

/** A gRPC length-prefixed message around protobuf bytes. */
function framed(message: Buffer, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Feeds `wire` to a reader in pieces cut at `cuts`; returns what it handed on. */
function readAll(wire: Buffer, cuts: readonly number[] = []): { out: Buffer; reader: DataMessageReader } {
  const parts: Buffer[] = [];
  const reader = new DataMessageReader((p) => parts.push(Buffer.from(p)));
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    reader.push(wire.subarray(from, cut));
    from = cut;
  }
  reader.push(wire.subarray(from));
  return { out: Buffer.concat(parts), reader };
}

describe("gRPC message framing for the tunnel", () => {
  it("writes exactly the gRPC prefix and the protobuf encoding of tunnel.proto", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 70_000 }), (bytes) => {
        const data = Buffer.from(bytes);
        expect(encodeGrpcDataMessage(data).equals(framed(serialize(data)))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("reads the payloads of any sequence of messages, however the bytes are cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (payloads, rawCuts) => {
          const wire = Buffer.concat(payloads.map((p) => framed(serialize(Buffer.from(p)))));
          const cuts = rawCuts.map((c) => c % (wire.length + 1));
          const { out, reader } = readAll(wire, cuts);
          expect(out.equals(Buffer.concat(payloads.map((p) => Buffer.from(p))))).toBe(true);
          expect(reader.atMessageBoundary).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("skips unknown fields and lets the last data field win, as protobuf does", () => {
    // data "ab", field 2 varint 150, data "cd": "cd" wins
    const replaced = Buffer.from([0x0a, 2, 0x61, 0x62, 0x10, 0x96, 0x01, 0x0a, 2, 0x63, 0x64]);
    // data "ab", then a fixed64 and a fixed32 field: "ab" stands
    const trailing = Buffer.from([0x0a, 2, 0x61, 0x62, 0x19, ...new Array(8).fill(1), 0x25, 1, 2, 3, 4]);
    for (const cut of [0, 1, 3, 6, 8, 11]) {
      expect(readAll(framed(replaced), [cut + 5]).out.toString()).toBe("cd");
      expect(readAll(framed(trailing), [cut + 5]).out.toString()).toBe("ab");
    }
  });

  it("rejects compressed and malformed messages", () => {
    const reader = () => new DataMessageReader(() => {});
    expect(() => reader().push(framed(serialize(Buffer.from("hi")), 1))).toThrow(TunnelCodecError);
    // the data field claims 5 bytes, the message holds 1
    expect(() => reader().push(framed(Buffer.from([0x0a, 5, 0x68])))).toThrow(TunnelCodecError);
    // wire type 3 (group) is not protobuf 3
    expect(() => reader().push(framed(Buffer.from([0x0b, 0])))).toThrow(TunnelCodecError);
  });

  it("knows when a stream stopped inside a message", () => {
    const { reader } = readAll(framed(serialize(Buffer.from("hello"))).subarray(0, 8));
    expect(reader.atMessageBoundary).toBe(false);
  });
});
