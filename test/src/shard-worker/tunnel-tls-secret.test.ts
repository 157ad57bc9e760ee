/**
 * The tunnel TLS the controller puts in a deployment's Secret, used as the
 * workers use it: a stage serves the Secret's certificate, the head trusts only
 * the Secret's CA and asks for the certificate's fixed name whatever address it
 * dials (as pods dial each other by DNS name). A real TunnelServer and
 * TunnelListener over loopback, a real ggml-rpc-server behind them.
 */
import { makeTunnelTls, type TunnelTlsMaterial } from "@strata/controller";
import { TUNNEL_TLS } from "@strata/core";
import { TunnelListener, TunnelServer } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RpcServerProcess, rpcHello, startRpcServer } from "./rpc-fixtures.js";

const TOKEN = "secret-from-the-same-secret";

let material: TunnelTlsMaterial;
let engine: RpcServerProcess;
let server: TunnelServer;
let tunnelPort: number;

beforeAll(async () => {
  material = await makeTunnelTls("llama", "prod");
  engine = await startRpcServer();
  server = new TunnelServer({
    enginePort: engine.port,
    bind: "127.0.0.1:0",
    token: TOKEN,
    tls: { cert: Buffer.from(material.cert), key: Buffer.from(material.key) },
  });
  tunnelPort = await server.start();
});

afterAll(async () => {
  await server?.stop();
  await engine?.stop();
});

async function hello(target: ConstructorParameters<typeof TunnelListener>[0]): Promise<string> {
  const listener = new TunnelListener(target);
  const port = await listener.listen();
  try {
    return await rpcHello(port);
  } finally {
    await listener.close();
  }
}

describe("tunnel TLS from the deployment's Secret", () => {
  it("connects a head that trusts the deployment's CA and asks for the tunnel name", async () => {
    const version = await hello({
      address: `127.0.0.1:${tunnelPort}`,
      token: TOKEN,
      caCert: Buffer.from(material.caCert),
      serverName: TUNNEL_TLS.serverName,
    });
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("refuses a head that trusts another deployment's CA", async () => {
    const other = await makeTunnelTls("other", "prod");
    await expect(
      hello({
        address: `127.0.0.1:${tunnelPort}`,
        token: TOKEN,
        caCert: Buffer.from(other.caCert),
        serverName: TUNNEL_TLS.serverName,
      }),
    ).rejects.toThrow(/closed/);
  });

  it("refuses a head that checks the address it dialled instead of the tunnel name", async () => {
    await expect(
      hello({ address: `127.0.0.1:${tunnelPort}`, token: TOKEN, caCert: Buffer.from(material.caCert) }),
    ).rejects.toThrow(/closed/);
  });
});
