import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { TunnelListener, TunnelServer } from "@strata/shard-worker";

/**
 * Message throughput of the tunnel against raw loopback TCP. A sink reads one
 * message of `size` bytes and answers with a 1-byte ack; the client sends the
 * next message after the ack. Raw: client → sink. Tunnel: client → head-side
 * listener → gRPC → stage-side server → sink, all in this process (both paths
 * share one event loop, so neither gets a core to itself).
 */

export interface ThroughputRow {
  readonly sizeBytes: number;
  readonly rawMiBps: number;
  readonly tunnelMiBps: number;
}

export interface LatencyRow {
  readonly rawRoundTripUs: number;
  readonly tunnelRoundTripUs: number;
}

const TOKEN = "bench-token";
const MIN_BYTES_PER_SIZE = 64 * 1024 * 1024;
const MIN_MESSAGES_PER_SIZE = 4;

function startSink(messageBytes: () => number): Promise<Server> {
  const server = createServer({ noDelay: true }, (socket) => {
    let received = 0;
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      const size = messageBytes();
      while (received >= size) {
        received -= size;
        socket.write(ACK);
      }
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const ACK = Buffer.from([1]);

async function connectTo(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return socket;
}

/** Sends `count` messages of `message.length` bytes one at a time; returns seconds. */
async function sendMessages(socket: Socket, message: Buffer, count: number): Promise<number> {
  let acks = 0;
  let wake: () => void = () => {};
  const onData = (chunk: Buffer) => {
    acks += chunk.length;
    wake();
  };
  socket.on("data", onData);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const target = i + 1;
    await new Promise<void>((resolve) => {
      wake = () => {
        if (acks >= target) resolve();
      };
      socket.write(message);
    });
  }
  socket.off("data", onData);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function measureThroughput(
  sizes: readonly number[],
): Promise<{ rows: ThroughputRow[]; latency: LatencyRow }> {
  let currentSize = 1;
  const sink = await startSink(() => currentSize);
  const sinkPort = (sink.address() as AddressInfo).port;
  const tunnelServer = new TunnelServer({ enginePort: sinkPort, bind: "127.0.0.1:0", token: TOKEN });
  const tunnelPort = await tunnelServer.start();
  const listener = new TunnelListener({ address: `127.0.0.1:${tunnelPort}`, token: TOKEN });
  const listenerPort = await listener.listen();
  try {
    const raw = await connectTo(sinkPort);
    const tunnel = await connectTo(listenerPort);
    const rows: ThroughputRow[] = [];

    currentSize = 16;
    const small = Buffer.alloc(16, 7);
    await sendMessages(raw, small, 200);
    await sendMessages(tunnel, small, 200);
    const pings = 2000;
    const latency = {
      rawRoundTripUs: ((await sendMessages(raw, small, pings)) / pings) * 1e6,
      tunnelRoundTripUs: ((await sendMessages(tunnel, small, pings)) / pings) * 1e6,
    };

    for (const size of sizes) {
      currentSize = size;
      const message = Buffer.alloc(size, 7);
      const count = Math.max(MIN_MESSAGES_PER_SIZE, Math.ceil(MIN_BYTES_PER_SIZE / size));
      await sendMessages(raw, message, 1);
      await sendMessages(tunnel, message, 1);
      const mib = (size * count) / (1024 * 1024);
      const rawSeconds = await sendMessages(raw, message, count);
      const tunnelSeconds = await sendMessages(tunnel, message, count);
      rows.push({ sizeBytes: size, rawMiBps: mib / rawSeconds, tunnelMiBps: mib / tunnelSeconds });
    }
    raw.destroy();
    tunnel.destroy();
    return { rows, latency };
  } finally {
    await listener.close();
    await tunnelServer.stop();
    await new Promise((resolve) => sink.close(resolve));
  }
}
