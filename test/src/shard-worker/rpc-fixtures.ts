import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { freeLoopbackPort } from "@strata/runtime";
import { llamaCppBinaryPaths, tcpProbe } from "@strata/shard-worker";

/** The llama.cpp binaries `strata setup` built; tests fail loudly without them. */
export function binaries() {
  const paths = llamaCppBinaryPaths();
  if (!existsSync(paths.rpcServer) || !existsSync(paths.llamaServer)) {
    throw new Error(`llama.cpp binaries missing under ${paths.rpcServer}: run \`npx strata setup\` first`);
  }
  return paths;
}

export interface RpcServerProcess {
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** A real ggml-rpc-server on a free loopback port. */
export async function startRpcServer(): Promise<RpcServerProcess> {
  const port = await freeLoopbackPort();
  const child = spawn(binaries().rpcServer, ["--host", "127.0.0.1", "--port", String(port)], {
    stdio: "ignore",
  });
  const probe = tcpProbe("127.0.0.1", port);
  for (let i = 0; i < 100 && !(await probe()); i++) await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A loopback TCP relay in front of a port that counts what passes, to prove what reached the engine. */
export class CountingRelay {
  connections = 0;
  bytesToTarget = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly targetPort: number) {
    this.server = createServer({ noDelay: true }, (inbound) => {
      this.connections++;
      const outbound = connect({ host: "127.0.0.1", port: this.targetPort, noDelay: true });
      this.sockets.add(inbound).add(outbound);
      inbound.on("data", (d: Buffer) => {
        this.bytesToTarget += d.length;
        outbound.write(d);
      });
      outbound.on("data", (d: Buffer) => inbound.write(d));
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
      inbound.on("error", () => {});
      outbound.on("error", () => {});
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** ggml RPC protocol constants (llama.cpp ggml/src/ggml-rpc/ggml-rpc.cpp, transport.h). */
const RPC_CMD_HELLO = 14;
const RPC_CONN_CAPS_SIZE = 24;

/** A ggml RPC HELLO request: the command byte, the payload size, the connection capabilities. */
export const RPC_HELLO_REQUEST = (() => {
  const request = Buffer.alloc(1 + 8 + RPC_CONN_CAPS_SIZE);
  request[0] = RPC_CMD_HELLO;
  request.writeBigUInt64LE(BigInt(RPC_CONN_CAPS_SIZE), 1);
  return request;
})();

/** The protocol version in a complete HELLO response ("7.0.0"), or undefined while incomplete. */
export function rpcHelloVersion(response: Buffer): string | undefined {
  if (response.length < 8 || response.length < 8 + Number(response.readBigUInt64LE(0))) return undefined;
  return `${response[8]}.${response[9]}.${response[10]}`;
}

/**
 * Performs the ggml RPC HELLO exchange over a socket connected to `port` and
 * returns the server's protocol version, e.g. "7.0.0".
 */
export async function rpcHello(port: number): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port, noDelay: true });
  try {
    socket.write(RPC_HELLO_REQUEST);
    return await new Promise<string>((resolve, reject) => {
      let got = Buffer.alloc(0);
      socket.on("data", (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const version = rpcHelloVersion(got);
        if (version !== undefined) resolve(version);
      });
      socket.on("error", reject);
      socket.on("close", () => reject(new Error(`connection closed after ${got.length} bytes`)));
    });
  } finally {
    socket.destroy();
  }
}
