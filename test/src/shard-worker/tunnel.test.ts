import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChannelCredentials, Client, Metadata, status } from "@grpc/grpc-js";
import {
  decodeDataMessage,
  encodeDataMessage,
  TUNNEL_OPEN_PATH,
  TunnelListener,
  TunnelServer,
} from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CountingRelay, type RpcServerProcess, rpcHello, startRpcServer } from "./rpc-fixtures.js";

const TOKEN = "s3cret-token";

/** Opens one Open stream with the given metadata and waits for its final status. */
async function callStatus(
  port: number,
  authorization: string | undefined,
): Promise<{ code: number; details: string }> {
  const client = new Client(`127.0.0.1:${port}`, ChannelCredentials.createInsecure());
  const metadata = new Metadata();
  if (authorization !== undefined) metadata.set("authorization", authorization);
  const call = client.makeBidiStreamRequest(TUNNEL_OPEN_PATH, encodeDataMessage, decodeDataMessage, metadata);
  const result = await new Promise<{ code: number; details: string }>((resolve) => {
    call.on("status", (s) => resolve({ code: s.code, details: s.details }));
    call.on("error", () => {});
    call.on("data", () => {});
    // A HELLO the engine must never see when the token is wrong.
    call.write(Buffer.from([14, 24, 0, 0, 0, 0, 0, 0, 0, ...new Array(24).fill(0)]));
  });
  client.close();
  return result;
}

describe("gRPC tunnel in front of a real ggml-rpc-server", () => {
  let engine: RpcServerProcess;
  let relay: CountingRelay;
  let server: TunnelServer;
  let tunnelPort: number;

  beforeAll(async () => {
    engine = await startRpcServer();
    relay = new CountingRelay(engine.port);
    const relayPort = await relay.listen();
    server = new TunnelServer({ enginePort: relayPort, bind: "127.0.0.1:0", token: TOKEN });
    tunnelPort = await server.start();
  });

  afterAll(async () => {
    await server?.stop();
    await relay?.close();
    await engine?.stop();
  });

  it.each([
    ["no authorization metadata", undefined],
    ["a wrong token", "Bearer not-the-token"],
    ["the right token without the Bearer scheme", TOKEN],
    ["an empty bearer", "Bearer "],
  ])("rejects %s with UNAUTHENTICATED before any byte reaches the engine", async (_name, authorization) => {
    const before = { connections: relay.connections, bytes: relay.bytesToTarget };
    const result = await callStatus(tunnelPort, authorization);
    expect(result.code).toBe(status.UNAUTHENTICATED);
    expect(relay.connections).toBe(before.connections);
    expect(relay.bytesToTarget).toBe(before.bytes);
  });

  it("carries the engine's protocol end to end with the right token", async () => {
    const listener = new TunnelListener({ address: `127.0.0.1:${tunnelPort}`, token: TOKEN });
    const localPort = await listener.listen();
    try {
      const before = relay.connections;
      expect(await rpcHello(localPort)).toBe(await rpcHello(engine.port));
      expect(relay.connections).toBe(before + 1);
      expect(relay.bytesToTarget).toBeGreaterThan(0);
    } finally {
      await listener.close();
    }
  });

  it("closes the local connection when the engine is unreachable, without hanging", async () => {
    const deadEnd = new TunnelServer({ enginePort: 1, bind: "127.0.0.1:0", token: TOKEN });
    const port = await deadEnd.start();
    const listener = new TunnelListener({ address: `127.0.0.1:${port}`, token: TOKEN });
    const localPort = await listener.listen();
    try {
      await expect(rpcHello(localPort)).rejects.toThrow(/closed/);
    } finally {
      await listener.close();
      await deadEnd.stop();
    }
  });
});

describe("gRPC tunnel over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-tls-"));
  let engine: RpcServerProcess;
  let server: TunnelServer;
  let tunnelPort: number;

  beforeAll(async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    engine = await startRpcServer();
    server = new TunnelServer({
      enginePort: engine.port,
      bind: "127.0.0.1:0",
      token: TOKEN,
      tls: { cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) },
    });
    tunnelPort = await server.start();
  });

  afterAll(async () => {
    await server?.stop();
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the engine to a client that trusts the certificate", async () => {
    const listener = new TunnelListener({
      address: `127.0.0.1:${tunnelPort}`,
      token: TOKEN,
      caCert: readFileSync(join(dir, "cert.pem")),
    });
    const localPort = await listener.listen();
    try {
      expect(await rpcHello(localPort)).toMatch(/^\d+\.\d+\.\d+$/);
    } finally {
      await listener.close();
    }
  });

  it("refuses a plaintext client", async () => {
    const listener = new TunnelListener({ address: `127.0.0.1:${tunnelPort}`, token: TOKEN });
    const localPort = await listener.listen();
    try {
      await expect(rpcHello(localPort)).rejects.toThrow(/closed/);
    } finally {
      await listener.close();
    }
  });
});
