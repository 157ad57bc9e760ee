/**
 * The worker's HTTP port, in both roles: `/healthz` (the process and its
 * engine supervision are alive), `/readyz` (the role says when it can serve;
 * its JSON body tells why not) and `/metrics`. On the head every other path is
 * the replica's request path (head/front.ts); on a stage it is 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { handleMetricsRequest } from "@strata/runtime";
import type { Registry } from "prom-client";

export const HEALTH_PATHS = { live: "/healthz", ready: "/readyz" } as const;

/** What /readyz reports; `ready` decides the status (200 or 503). */
export interface Readiness {
  readonly ready: boolean;
  readonly [detail: string]: unknown;
}

export interface WorkerHttpOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly registry: Registry;
  /** False once the worker has failed for good (its pod should be replaced). */
  readonly live: () => boolean;
  readonly readiness: () => Readiness;
}

export interface WorkerHttp {
  readonly port: number;
  /** Sets the handler for every path that is not a health or metrics path (the head's request path). */
  route(handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}

export async function startWorkerHttp(options: WorkerHttpOptions): Promise<WorkerHttp> {
  let fallback: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === HEALTH_PATHS.live) {
      const live = options.live();
      json(res, live ? 200 : 503, { live });
      return;
    }
    if (path === HEALTH_PATHS.ready) {
      const readiness = options.readiness();
      json(res, readiness.ready ? 200 : 503, readiness);
      return;
    }
    if (handleMetricsRequest(options.registry, req, res)) return;
    if (fallback) {
      fallback(req, res);
      return;
    }
    json(res, 404, { error: { message: `no route for ${path}`, type: "not_found" } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    route(handler) {
      fallback = handler;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
