import { type ClientHttp2Session, constants as h2, connect as http2Connect } from "node:http2";
import {
  type AddressInfo,
  createServer,
  isIP,
  type Server as NetServer,
  connect as netConnect,
  type Socket,
} from "node:net";
import { connect as tlsConnect } from "node:tls";
import { injectGrpcMetadata } from "@strata/runtime";
import { AUTHORIZATION_METADATA_KEY, bearerValue } from "./auth.js";
import {
  TUNNEL_KEEPALIVE_INTERVAL_MS,
  TUNNEL_KEEPALIVE_TIMEOUT_MS,
  TUNNEL_OPEN_PATH,
  tunnelHttp2Options,
} from "./definition.js";
import { GrpcByteStream } from "./grpc-stream.js";
import { GRPC_CONTENT_TYPE, GRPC_HEADERS } from "./grpc-wire.js";
import { type PipeTotals, pipeSocketAndCall } from "./pipe.js";

const TRACEPARENT = "traceparent";
/** How long one connection attempt may take before the next. */
const REACHABLE_POLL_MS = 2_000;
/** Pause between connection attempts while a stage is not up yet. */
const REACHABLE_RETRY_MS = 250;
const USER_AGENT = "strata-tunnel";

export interface TunnelTarget {
  /** host:port of the stage's TunnelServer. */
  readonly address: string;
  readonly token: string;
  /** PEM CA certificate to trust; TLS is used when present. */
  readonly caCert?: Buffer;
  /** The name the server's certificate must carry, whatever `address` names (TLS only). */
  readonly serverName?: string;
}

export interface TunnelListenerObserver {
  connectionOpened?(): void;
  connectionClosed?(totals: PipeTotals, error?: Error): void;
  /** A per-connection hook called with every chunk (live byte counts, message latency). */
  connectionChunks?(): (fromSocket: boolean, bytes: number) => void;
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port: Number(address.slice(at + 1)) };
}

/**
 * One HTTP/2 connection to a stage's TunnelServer, made on first use and
 * again after it is lost; PINGs keep it honest while idle (a stage that
 * vanished without closing the connection is noticed within the keepalive).
 */
class TunnelSession {
  private session: ClientHttp2Session | undefined;
  private keepalive: NodeJS.Timeout | undefined;

  constructor(private readonly target: TunnelTarget) {}

  /** The live session, connecting when there is none. */
  get(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const { host, port } = splitAddress(this.target.address);
    const tls = this.target.caCert !== undefined;
    const options = tunnelHttp2Options();
    const session = http2Connect(`${tls ? "https" : "http"}://${this.target.address}`, {
      ...options,
      createConnection: () => {
        const socket: Socket = tls
          ? tlsConnect({
              host,
              port,
              ca: this.target.caCert,
              ALPNProtocols: ["h2"],
              // SNI, and the name the certificate must carry (Node checks it against servername).
              servername: this.target.serverName ?? servername(host),
            })
          : netConnect({ host, port });
        socket.setNoDelay(true);
        return socket;
      },
    });
    session.on("error", () => {}); // its streams report the failure
    session.once("connect", () => session.setLocalWindowSize(options.settings.initialWindowSize));
    session.once("close", () => {
      if (this.session === session) this.forget();
    });
    session.once("goaway", () => {
      if (this.session === session) this.forget();
    });
    this.session = session;
    this.startKeepalive(session);
    return session;
  }

  close(): void {
    const session = this.session;
    this.forget();
    session?.destroy();
  }

  private forget(): void {
    clearInterval(this.keepalive);
    this.keepalive = undefined;
    this.session = undefined;
  }

  private startKeepalive(session: ClientHttp2Session): void {
    clearInterval(this.keepalive);
    this.keepalive = setInterval(() => {
      if (session.destroyed || session.connecting) return;
      const timeout = setTimeout(
        () => session.destroy(new Error("keepalive PING unanswered")),
        TUNNEL_KEEPALIVE_TIMEOUT_MS,
      );
      const sent = session.ping((err) => {
        clearTimeout(timeout);
        if (err) session.destroy(err);
      });
      if (!sent) clearTimeout(timeout);
    }, TUNNEL_KEEPALIVE_INTERVAL_MS);
    this.keepalive.unref();
  }
}

/** TLS server name for a host: none ("") for an IP address, since SNI carries names only. */
function servername(host: string): string {
  return isIP(host) === 0 ? host : "";
}

/**
 * The head side of the tunnel: a loopback TCP listener for one remote stage.
 * Every connection the engine opens to it becomes one `Open` stream to the
 * stage's TunnelServer, so the engine talks to a local port and never sees
 * the network.
 */
export class TunnelListener {
  private readonly session: TunnelSession;
  private readonly listener: NetServer;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: TunnelTarget,
    private readonly observer: TunnelListenerObserver = {},
  ) {
    this.session = new TunnelSession(target);
    this.listener = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  /** Listens on 127.0.0.1 (port 0 = any free port); returns the port. */
  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once("error", reject);
      this.listener.listen(port, "127.0.0.1", () => resolve());
    });
    return (this.listener.address() as AddressInfo).port;
  }

  /** Opens one raw tunnel stream (used by accept, request marks and benchmarks). */
  openStream(extraMetadata: Readonly<Record<string, string>> = {}): GrpcByteStream {
    const headers: Record<string, string> = {
      [h2.HTTP2_HEADER_METHOD]: "POST",
      [h2.HTTP2_HEADER_PATH]: TUNNEL_OPEN_PATH,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: GRPC_CONTENT_TYPE,
      [h2.HTTP2_HEADER_TE]: "trailers",
      [h2.HTTP2_HEADER_USER_AGENT]: USER_AGENT,
      [GRPC_HEADERS.acceptEncoding]: "identity",
      [AUTHORIZATION_METADATA_KEY]: bearerValue(this.target.token),
    };
    for (const [key, value] of Object.entries(extraMetadata)) headers[key.toLowerCase()] = value;
    // W3C trace context of whatever opened the stream (a request mark, or the engine's load).
    if (!(TRACEPARENT in extraMetadata)) {
      injectGrpcMetadata({
        get: (key) => (headers[key] === undefined ? [] : [headers[key] as string]),
        set: (key, value) => {
          headers[key] = value;
        },
      });
    }
    return GrpcByteStream.dial(this.session.get().request(headers, { endStream: false }));
  }

  /** Engine connections being tunnelled now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /**
   * Resolves once the stage's tunnel server completes an HTTP/2 handshake (it
   * may start after the head); retries until `signal` aborts.
   */
  async waitUntilReachable(signal?: AbortSignal): Promise<void> {
    while (!signal?.aborted) {
      if (await this.handshake()) return;
      await new Promise((resolve) => setTimeout(resolve, REACHABLE_RETRY_MS));
    }
    throw new Error(`gave up waiting for the tunnel at ${this.target.address}`);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.session.close();
  }

  private handshake(): Promise<boolean> {
    const session = this.session.get();
    if (!session.connecting) return Promise.resolve(!session.destroyed);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        session.off("connect", onConnect);
        session.off("close", onClose);
        if (!ok) session.destroy();
        resolve(ok);
      };
      const onConnect = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), REACHABLE_POLL_MS);
      session.once("connect", onConnect);
      session.once("close", onClose);
    });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.observer.connectionOpened?.();
    const call = this.openStream();
    pipeSocketAndCall(
      socket,
      call,
      (totals, error) => {
        this.sockets.delete(socket);
        call.cancel();
        this.observer.connectionClosed?.(totals, error);
      },
      this.observer.connectionChunks?.(),
    );
  }
}
