/**
 * gRPC over HTTP/2 as the tunnel speaks it (the protocol is
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): request
 * and response headers, status trailers, and the length-prefixed messages of
 * strata.v1.OpenRequest / OpenResponse (`bytes data = 1`).
 *
 * Messages are written as a 5-byte gRPC prefix, the protobuf tag and length,
 * then the payload buffers as they are (no copy), and read by a streaming
 * decoder that hands on payload bytes as they arrive instead of waiting for
 * the whole message: message boundaries carry no meaning in the tunnel.
 */
import { TunnelCodecError } from "./codec.js";

/** gRPC status codes the tunnel uses (grpc/grpc doc/statuscodes.md). */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INTERNAL: 13,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export const GRPC_CONTENT_TYPE = "application/grpc";
export const GRPC_HEADERS = {
  status: "grpc-status",
  message: "grpc-message",
  encoding: "grpc-encoding",
  acceptEncoding: "grpc-accept-encoding",
} as const;

/** A call that ended with a gRPC status other than OK. */
export class GrpcStatusError extends Error {
  override readonly name = "GrpcStatusError";
  constructor(
    readonly code: number,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`gRPC status ${code}: ${details}`, options);
  }
}

const DATA_FIELD_TAG = 0x0a; // field 1, wire type 2 (length-delimited)
const PREFIX_BYTES = 5;
const MAX_VARINT_BYTES = 10;

function putVarint(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/**
 * The bytes that precede `payloadBytes` of payload in one message: the gRPC
 * prefix (uncompressed, big-endian length) and the protobuf key and length.
 */
export function dataMessageHeader(payloadBytes: number): Buffer {
  const scratch = Buffer.allocUnsafe(PREFIX_BYTES + 1 + MAX_VARINT_BYTES);
  scratch[PREFIX_BYTES] = DATA_FIELD_TAG;
  const end = putVarint(scratch, PREFIX_BYTES + 1, payloadBytes);
  const messageBytes = end - PREFIX_BYTES + payloadBytes;
  if (messageBytes > 0xffff_ffff) throw new TunnelCodecError(`message of ${messageBytes} bytes is too large`);
  scratch[0] = 0;
  scratch.writeUInt32BE(messageBytes, 1);
  return scratch.subarray(0, end);
}

/** One message as wire bytes, the payload concatenated (for small messages and tests). */
export function encodeGrpcDataMessage(payload: Buffer): Buffer {
  return Buffer.concat([dataMessageHeader(payload.length), payload]);
}

type ReaderState =
  | { kind: "prefix" }
  | { kind: "key" }
  | { kind: "length"; field: number }
  | { kind: "skipVarint" }
  | { kind: "skip"; bytes: number }
  | { kind: "stream"; bytes: number }
  | { kind: "buffer"; bytes: number; parts: Buffer[] };

/**
 * Decodes a stream of length-prefixed OpenRequest/OpenResponse messages,
 * calling `onData` with payload slices of the received chunks (views, not
 * copies) as soon as they arrive. Unknown fields are skipped. Where a message
 * carries `data` more than once the last one wins, as in protobuf: a `data`
 * field that ends its message is streamed; an earlier one is held until the
 * message ends, and handed on only if no later `data` replaced it.
 */
export class DataMessageReader {
  private state: ReaderState = { kind: "prefix" };
  /** Bytes of a prefix or varint split across chunks. */
  private pending: number[] = [];
  /** Bytes left in the current message. */
  private remaining = 0;
  /** A non-final `data` field of the current message, handed on at its end unless replaced. */
  private held: Buffer | undefined;

  constructor(private readonly onData: (payload: Buffer) => void) {}

  /** True between messages: a stream may end here. */
  get atMessageBoundary(): boolean {
    return this.state.kind === "prefix" && this.pending.length === 0;
  }

  /** @throws TunnelCodecError for compressed or malformed messages */
  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const state = this.state;
      switch (state.kind) {
        case "prefix": {
          while (this.pending.length < PREFIX_BYTES && pos < chunk.length) {
            this.pending.push(chunk[pos++] as number);
          }
          if (this.pending.length < PREFIX_BYTES) return;
          const [flag, b1, b2, b3, b4] = this.pending as [number, number, number, number, number];
          this.pending = [];
          if (flag !== 0) throw new TunnelCodecError("compressed gRPC messages are not supported");
          this.remaining = ((b1 << 24) >>> 0) + (b2 << 16) + (b3 << 8) + b4;
          this.state = this.remaining === 0 ? { kind: "prefix" } : { kind: "key" };
          break;
        }
        case "key":
        case "length":
        case "skipVarint": {
          const [value, next] = this.readVarint(chunk, pos);
          pos = next;
          if (value === undefined) return;
          this.afterVarint(state, value);
          break;
        }
        case "skip":
        case "stream":
        case "buffer": {
          const take = Math.min(state.bytes, chunk.length - pos);
          const part = chunk.subarray(pos, pos + take);
          pos += take;
          this.remaining -= take;
          state.bytes -= take;
          if (state.kind === "stream" && take > 0) this.onData(part);
          else if (state.kind === "buffer") state.parts.push(part);
          if (state.bytes === 0) {
            if (state.kind === "buffer") this.held = Buffer.concat(state.parts);
            this.nextField();
          }
          break;
        }
      }
    }
  }

  /** Reads one varint that may continue from the previous chunk; `undefined` when the chunk ended first. */
  private readVarint(chunk: Buffer, pos: number): [value: number | undefined, next: number] {
    while (pos < chunk.length) {
      const byte = chunk[pos++] as number;
      this.pending.push(byte);
      this.consume(1);
      if (byte < 0x80) {
        let value = 0;
        for (let i = this.pending.length - 1; i >= 0; i--)
          value = value * 128 + ((this.pending[i] as number) & 0x7f);
        this.pending = [];
        return [value, pos];
      }
      if (this.pending.length >= MAX_VARINT_BYTES) throw new TunnelCodecError("varint too long");
    }
    return [undefined, pos];
  }

  private consume(bytes: number): void {
    this.remaining -= bytes;
    if (this.remaining < 0) throw new TunnelCodecError("field runs past the end of its message");
  }

  private afterVarint(
    state: Extract<ReaderState, { kind: "key" | "length" | "skipVarint" }>,
    value: number,
  ): void {
    if (state.kind === "key") {
      const wireType = value % 8;
      const field = Math.floor(value / 8);
      if (wireType === 1) {
        this.skip(8);
        return;
      }
      if (wireType === 5) {
        this.skip(4);
        return;
      }
      if (wireType !== 0 && wireType !== 2) throw new TunnelCodecError(`unsupported wire type ${wireType}`);
      if (this.remaining === 0) throw new TunnelCodecError("truncated field");
      this.state = wireType === 2 ? { kind: "length", field } : { kind: "skipVarint" };
      return;
    }
    if (state.kind === "skipVarint") {
      this.nextField();
      return;
    }
    if (value > this.remaining) throw new TunnelCodecError("truncated field");
    if (state.field !== 1) {
      this.skip(value);
      return;
    }
    const last = value === this.remaining;
    if (last) this.held = undefined; // the message's last `data`: it replaces any earlier one
    if (value === 0) {
      if (!last) this.held = Buffer.alloc(0);
      this.nextField();
      return;
    }
    this.state = last ? { kind: "stream", bytes: value } : { kind: "buffer", bytes: value, parts: [] };
  }

  private skip(bytes: number): void {
    if (bytes > this.remaining) throw new TunnelCodecError("truncated field");
    this.state = { kind: "skip", bytes };
    if (bytes === 0) this.nextField();
  }

  private nextField(): void {
    if (this.remaining > 0) {
      this.state = { kind: "key" };
      return;
    }
    this.state = { kind: "prefix" };
    const held = this.held;
    this.held = undefined;
    if (held && held.length > 0) this.onData(held);
  }
}
