import type { Server as NetServer } from "node:net";
import type { Logger } from "@strata/runtime";
import { type RunningGateway, runGateway } from "./run.js";

export interface LocalGatewayOptions {
  /** The local head's base URL, e.g. http://127.0.0.1:41234. */
  readonly headUrl: string;
  readonly host: string;
  readonly port: number;
  /** Served name; default: the first model the head lists on /v1/models. */
  readonly servedName?: string;
  readonly apiKeysFile?: string;
  readonly log?: Logger;
  /** The port reserved at start (a listening socket); the gateway serves on it. */
  readonly listenOn?: NetServer;
}

/** The name the head serves under (llama-server: its --alias or the model file name). */
async function headModelName(headUrl: string): Promise<string> {
  const res = await fetch(new URL("/v1/models", headUrl), { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { data?: { id?: unknown }[] };
  const id = body.data?.[0]?.id;
  if (!res.ok || typeof id !== "string")
    throw new Error(`the head at ${headUrl} lists no model on /v1/models`);
  return id;
}

/**
 * The gateway of `strata up`: one replica, the local head, served under the
 * head's own model name so that /v1/models through the gateway and from the
 * head agree. Authentication stays off unless a key file is given.
 */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<RunningGateway> {
  const model = options.servedName ?? (await headModelName(options.headUrl));
  return runGateway({
    host: options.host,
    port: options.port,
    upstreams: [{ id: "local/0", model, url: new URL(options.headUrl).origin }],
    apiKeysFile: options.apiKeysFile,
    ...(options.log ? { log: options.log } : {}),
    ...(options.listenOn ? { listenOn: options.listenOn } : {}),
  });
}
