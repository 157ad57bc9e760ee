/**
 * Connecting to NATS the way every Strata process does: keep retrying the
 * first connection, reconnect forever after a disconnect, and log status
 * changes. A process survives a NATS outage; publishers that must not lose
 * messages use the lifecycle outbox on top of this.
 */

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { InputError } from "@strata/core";
import type { Logger } from "../log.js";

export type { NatsConnection } from "@nats-io/transport-node";

/** The environment variable that points every Strata process at a NATS cluster. */
export const NATS_URL_ENV = "NATS_URL";
export const reconnectTimeWaitMs = 250;
export const pingIntervalMs = 5_000;

export interface ConnectNatsOptions {
  /** One or more `nats://host:port` URLs. */
  readonly servers: string | readonly string[];
  /** Shown in the server's monitoring pages, e.g. `shard-worker llama-405b/0/2`. */
  readonly name: string;
  readonly logger: Logger;
  /** Give up on the first connection after this long; reconnects after that never give up. Default: never. */
  readonly firstConnectTimeoutMs?: number;
}

export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const servers = typeof options.servers === "string" ? [options.servers] : [...options.servers];
  const connecting = connect({
    servers,
    name: options.name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: reconnectTimeWaitMs,
    reconnectJitter: 100,
    pingInterval: pingIntervalMs,
    waitOnFirstConnect: options.firstConnectTimeoutMs === undefined,
    timeout: options.firstConnectTimeoutMs ?? 20_000,
  });
  const nc = await connecting;
  watchStatus(nc, options.logger);
  return nc;
}

function watchStatus(nc: NatsConnection, logger: Logger): void {
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          logger.warn("nats disconnected", { server: s.server });
          break;
        case "reconnect":
          logger.info("nats reconnected", { server: s.server });
          break;
        case "error":
          logger.warn("nats error", { error: String(s.error) });
          break;
        default:
          break;
      }
    }
  })();
}

/**
 * The NATS URL a command or service should use: the flag wins over NATS_URL;
 * undefined means "start (or find) a local server". Rejects anything that is
 * not a nats:// or tls:// URL, naming the field it came from.
 */
export function resolveNatsUrl(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const [field, value] = flag !== undefined ? ["--nats-url", flag] : [NATS_URL_ENV, env[NATS_URL_ENV]];
  if (value === undefined || value === "") return undefined;
  for (const url of value.split(",")) {
    let parsed: URL;
    try {
      parsed = new URL(url.trim());
    } catch {
      throw new InputError(field, `must be a nats:// URL, got "${url}"`);
    }
    if (!["nats:", "tls:"].includes(parsed.protocol) || parsed.hostname === "") {
      throw new InputError(field, `must be a nats:// URL, got "${url}"`);
    }
  }
  return value;
}
