import { readFileSync } from "node:fs";
import { InputError } from "@strata/core";
import type { RoutingPolicy } from "./router.js";

export const defaultGatewayPort = 8080;
export const defaultMaxBodyBytes = 4 * 1024 * 1024;
export const defaultMaxQueuePerReplica = 64;
export const defaultRetryAfterSeconds = 1;
/** Distinct heads one request may try before the gateway gives up (502). */
export const defaultMaxAttempts = 3;
/** How long a head that refused a connection is skipped. */
export const defaultEjectMs = 2_000;
export const defaultLoadStaleAfterMs = 10_000;
/** Time allowed for a head to send response headers (prefill of a long prompt included). */
export const defaultUpstreamHeadersTimeoutMs = 600_000;
/** Time allowed for a client to send its whole request body. */
export const defaultBodyTimeoutMs = 30_000;

export interface GatewayOptions {
  host?: string;
  port?: number;
  /** File with one API key per line (`#` comments). Unset: no authentication. */
  apiKeysFile?: string;
  maxBodyBytes?: number;
  maxQueuePerReplica?: number;
  retryAfterSeconds?: number;
  maxAttempts?: number;
  ejectMs?: number;
  loadStaleAfterMs?: number;
  upstreamHeadersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

/** Resolved, read-only gateway settings. */
export interface GatewayConfig extends RoutingPolicy {
  readonly host: string;
  readonly port: number;
  /** Accepted bearer tokens; undefined means authentication is off. */
  readonly apiKeys: ReadonlySet<string> | undefined;
  readonly maxBodyBytes: number;
  readonly retryAfterSeconds: number;
  readonly maxAttempts: number;
  readonly ejectMs: number;
  readonly upstreamHeadersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

/** Reads API keys: one per line, blank lines and `#` comments skipped. */
export function readApiKeys(path: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err: unknown) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InputError("--api-keys-file", `cannot read ${path}: ${why}`, { cause: err });
  }
  const keys = new Set(
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
  if (keys.size === 0) throw new InputError("--api-keys-file", `${path} holds no keys`);
  return keys;
}

function positive(field: string, value: number | undefined, fallback: number, integer = true): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new InputError(field, `must be a positive ${integer ? "integer" : "number"}, got ${v}`);
  }
  return v;
}

/** Checks options once and fills defaults; throws InputError naming the bad field. */
export function resolveGatewayConfig(options: GatewayOptions = {}): GatewayConfig {
  const port = options.port ?? defaultGatewayPort;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InputError("--port", `must be 0..65535, got ${port}`);
  }
  return Object.freeze({
    host: options.host ?? "127.0.0.1",
    port,
    apiKeys: options.apiKeysFile === undefined ? undefined : readApiKeys(options.apiKeysFile),
    maxBodyBytes: positive("--max-body-bytes", options.maxBodyBytes, defaultMaxBodyBytes),
    maxQueuePerReplica: positive("--max-queue", options.maxQueuePerReplica, defaultMaxQueuePerReplica),
    retryAfterSeconds: positive("--retry-after", options.retryAfterSeconds, defaultRetryAfterSeconds),
    maxAttempts: positive("--max-attempts", options.maxAttempts, defaultMaxAttempts),
    ejectMs: positive("ejectMs", options.ejectMs, defaultEjectMs),
    loadStaleAfterMs: positive("loadStaleAfterMs", options.loadStaleAfterMs, defaultLoadStaleAfterMs),
    upstreamHeadersTimeoutMs: positive(
      "upstreamHeadersTimeoutMs",
      options.upstreamHeadersTimeoutMs,
      defaultUpstreamHeadersTimeoutMs,
    ),
    bodyTimeoutMs: positive("bodyTimeoutMs", options.bodyTimeoutMs, defaultBodyTimeoutMs),
  });
}
