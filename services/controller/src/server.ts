import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthProbes {
  /** The process works: caches are watching and the queue is served. */
  healthy(): boolean;
  /** Caches have synced; a standby is ready too, it only does not act. */
  ready(): boolean;
}

/** Serves /healthz, /readyz and /metrics, leader or not. */
export async function startHealthServer(
  host: string,
  port: number,
  probes: HealthProbes,
  registry: Registry,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const answer = (ok: boolean) => {
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
      res.end(ok ? "ok\n" : "not ready\n");
    };
    if (path === "/healthz") return answer(probes.healthy());
    if (path === "/readyz") return answer(probes.ready());
    if (path === "/metrics") {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
      return;
    }
    res.writeHead(404);
    res.end("not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
