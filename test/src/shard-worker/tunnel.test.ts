import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { TunnelListener, TunnelServer } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcJsTunnelServer, grpcJsHello } from "./grpc-js-peer.js";
import { CountingRelay, type RpcServerProcess, rpcHello, startRpcServer } from "./rpc-fixtures.js";

const TOKEN = "s3cret-token";

describe("gRPC tunnel in front of a real ggml-rpc-server", () => {
  let engine: RpcServerProcess;
  let relay: CountingRelay;
  let relayPort: number;
  let server: TunnelServer;
  let tunnelPort: number;

  beforeAll(async () => {
    engine = await startRpcServer();
    relay = new CountingRelay(engine.port);
    relayPort = await relay.listen();
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
    const result = await grpcJsHello(tunnelPort, authorization);
    expect(result.code).toBe(status.UNAUTHENTICATED);
    expect(result.version).toBeUndefined();
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

  it("serves a grpc-js client that presents the token, ending the call with OK", async () => {
    const result = await grpcJsHello(tunnelPort, `Bearer ${TOKEN}`);
    expect(result).toEqual({ code: status.OK, details: "", version: await rpcHello(engine.port) });
  });

  it("dials a grpc-js server with the bearer token and carries the engine's protocol", async () => {
    const peer = new GrpcJsTunnelServer(engine.port);
    const port = await peer.start();
    const listener = new TunnelListener({ address: `127.0.0.1:${port}`, token: TOKEN });
    const localPort = await listener.listen();
    try {
      await listener.waitUntilReachable();
      expect(await rpcHello(localPort)).toBe(await rpcHello(engine.port));
      expect(peer.authorizations).toEqual([`Bearer ${TOKEN}`]);
    } finally {
      await listener.close();
      peer.stop();
    }
  });

  it("counts a connection of random bytes as malformed, without a byte reaching the engine", async () => {
    const reasons: string[] = [];
    let counted!: () => void;
    const seen = new Promise<void>((resolve) => {
      counted = resolve;
    });
    const guarded = new TunnelServer({
      enginePort: relayPort,
      bind: "127.0.0.1:0",
      token: TOKEN,
      observer: {
        rejected: (reason) => {
          reasons.push(reason);
          counted();
        },
      },
    });
    const port = await guarded.start();
    const before = { connections: relay.connections, bytes: relay.bytesToTarget };
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    try {
      socket.write(randomBytes(4096));
      await seen;
      expect(reasons).toEqual(["malformed"]);
      expect(relay.connections).toBe(before.connections);
      expect(relay.bytesToTarget).toBe(before.bytes);
    } finally {
      socket.destroy();
      await guarded.stop();
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

/** A self-signed certificate for localhost and 127.0.0.1 in `dir`. */
function selfSignedCertificate(dir: string, certFile: string, keyFile: string): void {
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
      join(dir, keyFile),
      "-out",
      join(dir, certFile),
    ],
    { stdio: "ignore" },
  );
}

describe("gRPC tunnel over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-tls-"));
  let engine: RpcServerProcess;
  let server: TunnelServer;
  let tunnelPort: number;

  beforeAll(async () => {
    selfSignedCertificate(dir, "cert.pem", "key.pem");
    selfSignedCertificate(dir, "other-cert.pem", "other-key.pem");
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

  it("serves a grpc-js client that trusts the certificate", async () => {
    const result = await grpcJsHello(tunnelPort, `Bearer ${TOKEN}`, readFileSync(join(dir, "cert.pem")));
    expect(result.code).toBe(status.OK);
    expect(result.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("dials a grpc-js TLS server, checking its certificate", async () => {
    const peer = new GrpcJsTunnelServer(engine.port);
    const port = await peer.start({
      cert: readFileSync(join(dir, "cert.pem")),
      key: readFileSync(join(dir, "key.pem")),
    });
    const trusting = new TunnelListener({
      address: `127.0.0.1:${port}`,
      token: TOKEN,
      caCert: readFileSync(join(dir, "cert.pem")),
    });
    const otherCa = new TunnelListener({
      address: `127.0.0.1:${port}`,
      token: TOKEN,
      caCert: readFileSync(join(dir, "other-cert.pem")),
    });
    try {
      expect(await rpcHello(await trusting.listen())).toMatch(/^\d+\.\d+\.\d+$/);
      expect(peer.authorizations).toEqual([`Bearer ${TOKEN}`]);
      await expect(rpcHello(await otherCa.listen())).rejects.toThrow(/closed/);
      expect(peer.authorizations).toHaveLength(1);
    } finally {
      await trusting.close();
      await otherCa.close();
      peer.stop();
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
