import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  constants as h2,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { connect } from "node:net";
import { hasBearerToken } from "./auth.js";
import { TUNNEL_OPEN_PATH, tunnelHttp2Options } from "./definition.js";
import { GrpcByteStream } from "./grpc-stream.js";
import { GRPC_CONTENT_TYPE, GRPC_STATUS } from "./grpc-wire.js";
import { type PipeTotals, pipeSocketAndCall } from "./pipe.js";

/** Hooks for metrics and tracing; every member optional. */
export interface TunnelServerObserver {
  streamOpened?(): void;
  streamClosed?(totals: PipeTotals, error?: Error): void;
  /** A call without the token, or a connection that does not speak HTTP/2 (garbage). */
  rejected?(reason: "unauthenticated" | "malformed"): void;
  /**
   * Claims an authenticated stream before any engine connection is made
   * (request marks for tracing); returns true when it took the call over.
   */
  requestMark?(call: GrpcByteStream): boolean;
  /** A per-stream hook called with every chunk (live byte counts). */
  connectionChunks?(): (fromSocket: boolean, bytes: number) => void;
}

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TunnelServerOptions {
  /** The engine's loopback TCP port: what each tunnel stream connects to. */
  readonly enginePort: number;
  readonly engineHost?: string;
  /** Address the gRPC server binds, e.g. "127.0.0.1:0" or "0.0.0.0:50051". */
  readonly bind: string;
  readonly token: string;
  readonly tls?: TlsFiles;
  readonly observer?: TunnelServerObserver;
}

/** How long `stop` lets open calls finish before it cuts them. */
const STOP_GRACE_MS = 1000;

/** The bind address is not host:port. */
export class TunnelBindError extends Error {
  override readonly name = "TunnelBindError";
}

function splitHostPort(bind: string): { host: string; port: number } {
  const at = bind.lastIndexOf(":");
  const port = Number(bind.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new TunnelBindError(`tunnel bind address ${JSON.stringify(bind)} is not host:port`);
  }
  return { host: bind.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port };
}

/**
 * The stage side of the tunnel: a gRPC server (strata.v1.TunnelService on
 * node:http2, see grpc-wire.ts) whose every `Open` stream, once its bearer
 * token checks out, becomes one TCP connection to the engine.
 * Unauthenticated calls end with UNAUTHENTICATED before any connection to the
 * engine exists, so not a byte of theirs can reach it.
 */
export class TunnelServer {
  private readonly server: Http2Server | Http2SecureServer;
  private readonly sessions = new Set<Http2Session>();
  private boundPort = 0;

  constructor(private readonly options: TunnelServerOptions) {
    const http2Options = tunnelHttp2Options();
    this.server = options.tls
      ? createSecureServer({ ...http2Options, cert: options.tls.cert, key: options.tls.key })
      : createServer(http2Options);
    // Replies are small and latency-bound: no Nagle on accepted connections.
    this.server.on("connection", (socket: Socket) => socket.setNoDelay(true));
    this.server.on("secureConnection", (socket: Socket) => socket.setNoDelay(true));
    this.server.on("session", (session: Http2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      session.on("error", () => {}); // its streams report the failure
      // The connection-level receive window; the stream-level one is in the settings.
      session.setLocalWindowSize(http2Options.settings.initialWindowSize);
    });
    // A connection whose bytes are not HTTP/2 (or, with TLS, not a TLS handshake) is counted once.
    const malformed = () => options.observer?.rejected?.("malformed");
    this.server.on("sessionError", malformed);
    this.server.on("tlsClientError", malformed);
    this.server.on("stream", (stream, headers) => this.open(stream, headers));
  }

  /** Binds and starts serving; returns the bound port. */
  async start(): Promise<number> {
    const { host, port } = splitHostPort(this.options.bind);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    // Open streams would hold the sessions forever; the engine is going away anyway.
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
    }, STOP_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  private open(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on("error", () => {}); // GrpcByteStream or the rejection handles it
    if (headers[h2.HTTP2_HEADER_PATH] !== TUNNEL_OPEN_PATH) {
      GrpcByteStream.reject(
        stream,
        GRPC_STATUS.UNIMPLEMENTED,
        `unknown method ${headers[h2.HTTP2_HEADER_PATH]}`,
      );
      return;
    }
    const contentType = String(headers[h2.HTTP2_HEADER_CONTENT_TYPE] ?? "");
    if (headers[h2.HTTP2_HEADER_METHOD] !== "POST" || !contentType.startsWith(GRPC_CONTENT_TYPE)) {
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 415 }, { endStream: true });
      return;
    }
    const { observer } = this.options;
    const call = GrpcByteStream.incoming(stream, headers);
    if (!hasBearerToken(call.metadata, this.options.token)) {
      observer?.rejected?.("unauthenticated");
      GrpcByteStream.reject(stream, GRPC_STATUS.UNAUTHENTICATED, "missing or invalid bearer token");
      return;
    }
    call.open();
    if (observer?.requestMark?.(call)) return;
    observer?.streamOpened?.();
    const socket = connect({
      host: this.options.engineHost ?? "127.0.0.1",
      port: this.options.enginePort,
      noDelay: true,
    });
    pipeSocketAndCall(
      socket,
      call,
      (totals, error) => {
        observer?.streamClosed?.(totals, error);
        if (!call.destroyed) {
          if (error) call.endWithStatus(GRPC_STATUS.UNAVAILABLE, `engine connection: ${error.message}`);
          else call.end();
        }
      },
      observer?.connectionChunks?.(),
    );
  }
}
