/**
 * The other gRPC implementation the tunnel must interoperate with: grpc-js
 * (@grpc/grpc-js), as a client and as a server of strata.v1.TunnelService,
 * using the tunnel's whole-message codec (byte-identical to tunnel.proto).
 */
import { connect } from "node:net";
import {
  ChannelCredentials,
  Client,
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServiceDefinition,
  status,
} from "@grpc/grpc-js";
import { decodeDataMessage, encodeDataMessage, TUNNEL_OPEN_PATH } from "@strata/shard-worker";
import { RPC_HELLO_REQUEST, rpcHelloVersion } from "./rpc-fixtures.js";

const definition: ServiceDefinition = {
  open: {
    path: TUNNEL_OPEN_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: encodeDataMessage,
    requestDeserialize: decodeDataMessage,
    responseSerialize: encodeDataMessage,
    responseDeserialize: decodeDataMessage,
    originalName: "Open",
  },
};

/** A grpc-js TunnelService that relays each call to a TCP port, and records the tokens it saw. */
export class GrpcJsTunnelServer {
  readonly authorizations: string[] = [];
  private readonly server = new Server();

  constructor(private readonly enginePort: number) {
    this.server.addService(definition, {
      open: (call: ServerDuplexStream<Buffer, Buffer>) => {
        this.authorizations.push(String(call.metadata.get("authorization")[0] ?? ""));
        const socket = connect({ host: "127.0.0.1", port: this.enginePort, noDelay: true });
        call.on("data", (d: Buffer) => socket.write(d));
        call.on("end", () => socket.end());
        socket.on("data", (d: Buffer) => call.write(d));
        socket.on("close", () => call.end());
        socket.on("error", () => call.emit("error", { code: status.UNAVAILABLE, details: "engine" }));
        call.on("error", () => socket.destroy());
      },
    });
  }

  async start(tls?: { cert: Buffer; key: Buffer }): Promise<number> {
    const credentials = tls
      ? ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }])
      : ServerCredentials.createInsecure();
    return new Promise((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

/** The final status and the response bytes of one grpc-js `Open` call that sends a ggml RPC HELLO. */
export async function grpcJsHello(
  port: number,
  authorization: string | undefined,
  caCert?: Buffer,
): Promise<{ code: number; details: string; version?: string }> {
  const credentials = caCert ? ChannelCredentials.createSsl(caCert) : ChannelCredentials.createInsecure();
  const client = new Client(`127.0.0.1:${port}`, credentials);
  const metadata = new Metadata();
  if (authorization !== undefined) metadata.set("authorization", authorization);
  const call = client.makeBidiStreamRequest(TUNNEL_OPEN_PATH, encodeDataMessage, decodeDataMessage, metadata);
  try {
    return await new Promise((resolve) => {
      let got = Buffer.alloc(0);
      call.on("data", (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const version = rpcHelloVersion(got);
        // A complete answer: end our half; the server ends the call with its status.
        if (version !== undefined) call.end();
      });
      call.on("error", () => {});
      call.on("status", (s) => resolve({ code: s.code, details: s.details, version: rpcHelloVersion(got) }));
      call.write(RPC_HELLO_REQUEST);
    });
  } finally {
    client.close();
  }
}
