import { type AddressInfo, createServer } from "node:net";

/**
 * A loopback port that was free a moment ago. For engines that must be told a
 * port up front (ggml-rpc-server, llama-server); a start-up failure caused by a
 * lost race is retried by the engine supervisor's caller.
 */
export async function freeLoopbackPort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
