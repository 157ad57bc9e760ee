import { type AddressInfo, createServer, type Server as NetServer, type Socket } from "node:net";
import { ChannelCredentials, Client, Metadata } from "@grpc/grpc-js";
import { injectGrpcMetadata } from "@strata/runtime";
import { AUTHORIZATION_METADATA_KEY, bearerValue } from "./auth.js";
import { decodeDataMessage, encodeDataMessage } from "./codec.js";
import { TUNNEL_OPEN_PATH, tunnelChannelOptions } from "./definition.js";
import { type PipeTotals, pipeSocketAndCall } from "./pipe.js";

const TRACEPARENT = "traceparent";
/** How long one connection attempt may take before the next. */
const REACHABLE_POLL_MS = 2_000;

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

/**
 * The head side of the tunnel: a loopback TCP listener for one remote stage.
 * Every connection the engine opens to it becomes one `Open` stream to the
 * stage's TunnelServer, so the engine talks to a local port and never sees
 * the network.
 */
export class TunnelListener {
  private readonly client: Client;
  private readonly listener: NetServer;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: TunnelTarget,
    private readonly observer: TunnelListenerObserver = {},
  ) {
    const credentials = target.caCert
      ? ChannelCredentials.createSsl(target.caCert)
      : ChannelCredentials.createInsecure();
    this.client = new Client(target.address, credentials, {
      ...tunnelChannelOptions,
      ...(target.caCert && target.serverName ? { "grpc.ssl_target_name_override": target.serverName } : {}),
    });
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

  /** Opens one raw tunnel stream (used by accept and by benchmarks). */
  openStream(extraMetadata: Readonly<Record<string, string>> = {}) {
    const metadata = new Metadata();
    metadata.set(AUTHORIZATION_METADATA_KEY, bearerValue(this.target.token));
    for (const [key, value] of Object.entries(extraMetadata)) metadata.set(key, value);
    // W3C trace context of whatever opened the stream (a request mark, or the engine's load).
    if (!(TRACEPARENT in extraMetadata)) injectGrpcMetadata(metadata);
    return this.client.makeBidiStreamRequest<Buffer, Buffer>(
      TUNNEL_OPEN_PATH,
      encodeDataMessage,
      decodeDataMessage,
      metadata,
    );
  }

  /** Engine connections being tunnelled now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /**
   * Resolves once the stage's tunnel server accepts a channel (it may start
   * after the head); retries until `signal` aborts.
   */
  async waitUntilReachable(signal?: AbortSignal): Promise<void> {
    while (!signal?.aborted) {
      const ok = await new Promise<boolean>((resolve) =>
        this.client.waitForReady(Date.now() + REACHABLE_POLL_MS, (err) => resolve(err === undefined)),
      );
      if (ok) return;
    }
    throw new Error(`gave up waiting for the tunnel at ${this.target.address}`);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.client.close();
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
