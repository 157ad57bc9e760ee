import type { EventEmitter } from "node:events";
import type { ServerHttp2Session } from "node:http2";
import { connect, type Socket } from "node:net";
import { Server, ServerCredentials, type ServerDuplexStream, type ServiceError, status } from "@grpc/grpc-js";
import { hasBearerToken } from "./auth.js";
import {
  TUNNEL_FLOW_CONTROL_WINDOW_BYTES,
  tunnelChannelOptions,
  tunnelServiceDefinition,
} from "./definition.js";
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
  requestMark?(call: TunnelCall): boolean;
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

type TunnelCall = ServerDuplexStream<Buffer, Buffer>;

/**
 * grpc-js sets TCP_NODELAY on the sockets it dials but not on those its server
 * accepts (it offers no option for it), so replies would be subject to Nagle's
 * algorithm; and its server keeps HTTP/2's 64 KiB receive windows, so a large
 * upload (weights pushed to a stage) waits for a WINDOW_UPDATE round trip
 * every 64 KiB. It keeps its node:http2 servers in a private `http2Servers`
 * map; we hook each one's connections and sessions. A connection whose bytes
 * are not HTTP/2 ends its session with an error: `onMalformed` counts it.
 * Returns how many servers were hooked (0 means grpc-js changed its internals
 * and the defaults apply).
 */
function tuneAcceptedConnections(server: Server, onMalformed: () => void): number {
  const internals = server as unknown as { http2Servers?: Map<EventEmitter, unknown> };
  let hooked = 0;
  for (const http2Server of internals.http2Servers?.keys() ?? []) {
    http2Server.on("connection", (socket: Socket) => socket.setNoDelay(true));
    http2Server.on("session", (session: ServerHttp2Session) => {
      session.settings({ initialWindowSize: TUNNEL_FLOW_CONTROL_WINDOW_BYTES });
      session.setLocalWindowSize(TUNNEL_FLOW_CONTROL_WINDOW_BYTES);
    });
    http2Server.on("sessionError", onMalformed);
    hooked++;
  }
  return hooked;
}

/**
 * The stage side of the tunnel: a gRPC server whose every `Open` stream, once
 * its bearer token checks out, becomes one TCP connection to the engine.
 * Unauthenticated calls end with UNAUTHENTICATED before any connection to the
 * engine exists, so not a byte of theirs can reach it.
 */
export class TunnelServer {
  private readonly server = new Server({
    ...tunnelChannelOptions,
    "grpc.max_concurrent_streams": 1024,
  });
  private boundPort = 0;

  constructor(private readonly options: TunnelServerOptions) {
    this.server.addService(tunnelServiceDefinition, { open: (call: TunnelCall) => this.open(call) });
  }

  /** Binds and starts serving; returns the bound port. */
  async start(): Promise<number> {
    const credentials = this.options.tls
      ? ServerCredentials.createSsl(null, [
          { cert_chain: this.options.tls.cert, private_key: this.options.tls.key },
        ])
      : ServerCredentials.createInsecure();
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(this.options.bind, credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
    tuneAcceptedConnections(this.server, () => this.options.observer?.rejected?.("malformed"));
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.tryShutdown(() => resolve());
      // Open streams would hold tryShutdown forever; the engine is going away anyway.
      setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000).unref();
    });
  }

  private open(call: TunnelCall): void {
    const { observer } = this.options;
    if (!hasBearerToken(call.metadata, this.options.token)) {
      observer?.rejected?.("unauthenticated");
      const error: Partial<ServiceError> = {
        code: status.UNAUTHENTICATED,
        details: "missing or invalid bearer token",
      };
      call.emit("error", error);
      return;
    }
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
        if (error && !call.destroyed) {
          const failure: Partial<ServiceError> = {
            code: status.UNAVAILABLE,
            details: `engine connection: ${error.message}`,
          };
          call.emit("error", failure);
        }
      },
      observer?.connectionChunks?.(),
    );
  }
}
