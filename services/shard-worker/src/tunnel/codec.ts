/**
 * Whole-message codec for strata.v1.OpenRequest / OpenResponse
 * (proto/strata/v1/tunnel.proto): both are `bytes data = 1`. For gRPC
 * libraries that hand over one message at a time (a grpc-js peer in the
 * interoperability tests); the tunnel itself streams messages through
 * grpc-wire.ts. Encoding is one tag byte, a varint and the payload; decoding
 * returns a view into the received buffer without copying. The unit test
 * checks byte-compatibility with the .proto.
 */

const DATA_FIELD_TAG = 0x0a; // field 1, wire type 2 (length-delimited)

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}

export function encodeDataMessage(data: Buffer): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(1 + varintLength(data.length) + data.length);
  out[0] = DATA_FIELD_TAG;
  let pos = 1;
  let n = data.length;
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  data.copy(out, pos);
  return out;
}

/** Thrown for bytes that are not a valid OpenRequest/OpenResponse. */
export class TunnelCodecError extends Error {
  override readonly name = "TunnelCodecError";
}

function readVarint(buf: Buffer, pos: number): [value: number, next: number] {
  let value = 0;
  let multiplier = 1;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new TunnelCodecError("truncated varint");
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) return [value, pos];
    multiplier *= 128;
    if (multiplier > 2 ** 56) throw new TunnelCodecError("varint too long");
  }
}

/** Returns the `data` field (the last one wins, as protobuf says); skips unknown fields. */
export function decodeDataMessage(buf: Buffer): Buffer {
  let data: Buffer = Buffer.alloc(0);
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    const wireType = key & 7;
    pos = afterKey;
    if (wireType === 2) {
      const [length, afterLength] = readVarint(buf, pos);
      if (afterLength + length > buf.length) throw new TunnelCodecError("truncated field");
      if (key >>> 3 === 1) data = buf.subarray(afterLength, afterLength + length);
      pos = afterLength + length;
    } else if (wireType === 0) {
      pos = readVarint(buf, pos)[1];
    } else if (wireType === 1) {
      pos += 8;
    } else if (wireType === 5) {
      pos += 4;
    } else {
      throw new TunnelCodecError(`unsupported wire type ${wireType}`);
    }
  }
  return data;
}
