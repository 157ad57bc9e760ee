import { EventEmitter } from "node:events";
import {
  type ClientHttp2Stream,
  constants as h2,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { MetadataLike } from "@strata/runtime";
import { TunnelCodecError } from "./codec.js";
import {
  DataMessageReader,
  dataMessageHeader,
  GRPC_CONTENT_TYPE,
  GRPC_HEADERS,
  GRPC_STATUS,
  GrpcStatusError,
} from "./grpc-wire.js";

/** Messages up to this size are written as one buffer; larger ones as header plus the payload buffers. */
const COPY_MESSAGE_BYTES = 16 * 1024;

/** Request headers seen as gRPC metadata (keys are lower-case in HTTP/2). */
export function headerMetadata(headers: IncomingHttpHeaders): MetadataLike {
  return {
    get: (key) => {
      const value = headers[key.toLowerCase()];
      if (value === undefined) return [];
      return Array.isArray(value) ? value : [value];
    },
    set: (key, value) => {
      headers[key.toLowerCase()] = value;
    },
  };
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md): everything outside printable ASCII, and '%'. */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function decodeGrpcMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The gRPC status HTTP status codes map to when a response carries no grpc-status (PROTOCOL-HTTP2.md). */
function statusForHttp(httpStatus: number): number {
  if (httpStatus === 400) return GRPC_STATUS.INTERNAL;
  if (httpStatus === 401) return GRPC_STATUS.UNAUTHENTICATED;
  if (httpStatus === 404) return GRPC_STATUS.UNIMPLEMENTED;
  if ([429, 502, 503, 504].includes(httpStatus)) return GRPC_STATUS.UNAVAILABLE;
  return GRPC_STATUS.UNKNOWN;
}

/**
 * One `Open` call over an HTTP/2 stream, either side, as a byte stream:
 * `write` sends its buffers as one message, `data` events carry the payload
 * bytes that arrive, `end` means the peer finished sending (on the client:
 * with status OK), `error` carries a GrpcStatusError or the transport's
 * error, `close` comes last, always.
 */
export class GrpcByteStream extends EventEmitter {
  private readonly reader: DataMessageReader;
  private failed = false;
  private closed = false;
  /** Server side: the status the trailers will carry. */
  private finalStatus: { code: number; message: string } = { code: GRPC_STATUS.OK, message: "" };
  /** Client side: the status from the response's headers or trailers. */
  private receivedStatus: { code: number; message: string } | undefined;

  private constructor(
    private readonly stream: ClientHttp2Stream | ServerHttp2Stream,
    readonly side: "client" | "server",
    /** The request's metadata (server side); empty on the client. */
    readonly metadata: MetadataLike,
  ) {
    super();
    this.reader = new DataMessageReader((payload) => this.emit("data", payload));
    stream.on("data", (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err: unknown) {
        this.protocolError(err as Error);
      }
    });
    stream.on("end", () => this.readableEnded());
    stream.on("error", (err: Error) => this.fail(err));
    stream.on("close", () => this.onClose());
    stream.on("drain", () => this.emit("drain"));
  }

  /** The server side of a call, before it is accepted (`open`) or rejected (`reject`). */
  static incoming(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): GrpcByteStream {
    return new GrpcByteStream(stream, "server", headerMetadata(headers));
  }

  /** Server side: accepts the call; sends the response headers now, the status trailers at the end. */
  open(): void {
    const stream = this.stream as ServerHttp2Stream;
    stream.respond(
      { [h2.HTTP2_HEADER_STATUS]: 200, [h2.HTTP2_HEADER_CONTENT_TYPE]: GRPC_CONTENT_TYPE },
      { waitForTrailers: true },
    );
    stream.on("wantTrailers", () => {
      const trailers: Record<string, string> = { [GRPC_HEADERS.status]: String(this.finalStatus.code) };
      if (this.finalStatus.message)
        trailers[GRPC_HEADERS.message] = encodeGrpcMessage(this.finalStatus.message);
      stream.sendTrailers(trailers);
    });
  }

  /** The client side of a call just requested on a session. */
  static dial(stream: ClientHttp2Stream): GrpcByteStream {
    const call = new GrpcByteStream(stream, "client", headerMetadata({}));
    stream.on("response", (headers) => {
      const httpStatus = Number(headers[h2.HTTP2_HEADER_STATUS]);
      const grpcStatus = headers[GRPC_HEADERS.status];
      if (grpcStatus !== undefined) call.statusReceived(headers);
      else if (httpStatus !== 200) {
        call.receivedStatus = { code: statusForHttp(httpStatus), message: `HTTP status ${httpStatus}` };
      }
    });
    stream.on("trailers", (trailers) => call.statusReceived(trailers));
    return call;
  }

  /** Ends a call that was never accepted: a trailers-only response with `code`. */
  static reject(stream: ServerHttp2Stream, code: number, message: string): void {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond(
      {
        [h2.HTTP2_HEADER_STATUS]: 200,
        [h2.HTTP2_HEADER_CONTENT_TYPE]: GRPC_CONTENT_TYPE,
        [GRPC_HEADERS.status]: String(code),
        [GRPC_HEADERS.message]: encodeGrpcMessage(message),
      },
      { endStream: true },
    );
    // Whatever the client sends meanwhile is read and dropped.
    stream.resume();
  }

  get destroyed(): boolean {
    return this.closed || this.stream.destroyed;
  }

  /** Sends `chunks` as one message; false when the caller should wait for `drain`. */
  write(chunks: readonly Buffer[], callback?: (error?: Error | null) => void): boolean {
    let total = 0;
    for (const c of chunks) total += c.length;
    const header = dataMessageHeader(total);
    if (total <= COPY_MESSAGE_BYTES) {
      return this.stream.write(Buffer.concat([header, ...chunks], header.length + total), callback);
    }
    this.stream.cork();
    this.stream.write(header);
    let ok = true;
    for (const [i, chunk] of chunks.entries()) {
      ok = this.stream.write(chunk, i === chunks.length - 1 ? callback : undefined);
    }
    this.stream.uncork();
    return ok;
  }

  /** Finishes sending: on the client a half-close, on the server the end of the call with status OK. */
  end(): void {
    if (!this.stream.destroyed && this.stream.writable) this.stream.end();
  }

  /** Server side: ends the call with `code` in the trailers (the response headers were sent). */
  endWithStatus(code: number, message: string): void {
    this.finalStatus = { code, message };
    this.end();
    // Nothing more is read: the call is over.
    this.stream.resume();
  }

  /** Abandons the call (RST_STREAM CANCEL); the peer sees it cancelled. */
  cancel(): void {
    if (!this.stream.destroyed) this.stream.close(h2.NGHTTP2_CANCEL);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  private statusReceived(headers: IncomingHttpHeaders): void {
    this.receivedStatus = {
      code: Number(headers[GRPC_HEADERS.status]),
      message: decodeGrpcMessage(headers[GRPC_HEADERS.message]),
    };
  }

  private readableEnded(): void {
    if (!this.reader.atMessageBoundary) {
      this.protocolError(new TunnelCodecError("stream ended inside a message"));
      return;
    }
    if (this.side === "server") {
      this.emit("end");
      return;
    }
    const status = this.receivedStatus;
    if (status === undefined)
      this.fail(new GrpcStatusError(GRPC_STATUS.INTERNAL, "response without a grpc-status"));
    else if (status.code !== GRPC_STATUS.OK) this.fail(new GrpcStatusError(status.code, status.message));
    else this.emit("end");
  }

  private protocolError(err: Error): void {
    if (this.side === "server") this.endWithStatus(GRPC_STATUS.INTERNAL, err.message);
    else this.cancel();
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    // A call nobody listens to for errors (a finished request mark) must not crash the worker.
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  private onClose(): void {
    if (this.closed) return;
    // A stream reset before it ended properly: the peer or the connection went away.
    const ended =
      this.side === "server"
        ? this.stream.readableEnded || this.stream.writableEnded
        : this.receivedStatus !== undefined;
    if (!ended && !this.failed) {
      const code =
        this.stream.rstCode === h2.NGHTTP2_CANCEL ? GRPC_STATUS.CANCELLED : GRPC_STATUS.UNAVAILABLE;
      this.fail(new GrpcStatusError(code, `stream closed before it ended (RST code ${this.stream.rstCode})`));
    }
    this.closed = true;
    this.emit("close");
  }
}
