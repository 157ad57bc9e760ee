import { OpenAIError } from "./openai-error.js";

/**
 * A head's error answer, and which of them another head could serve instead.
 *
 * 502, 503 and 504 say the head could not get the request to its engine: the
 * engine is down behind the head's front (502), the replica is loading,
 * draining or busy (503), or it timed out (504). Another head may well succeed,
 * so the gateway tries one. Every other error status is the engine's answer to
 * this request (llama-server's 500 for input it cannot handle, a 400 naming a
 * parameter): the same request fails the same way on every replica, so the
 * client gets it at once, with the engine's status and message.
 */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** The most of an error body the gateway reads; engines answer errors in a few hundred bytes. */
export const MAX_ENGINE_ERROR_BYTES = 64 * 1024;

/** llama.cpp names a rejected request field as "Field 'n': …" (tools/server/server-schema.cpp). */
const LLAMA_CPP_FIELD = /^Field '([^']+)'/;

const stringOr = (v: unknown, fallback: string | null): string | null =>
  typeof v === "string" && v !== "" ? v : fallback;

/**
 * The engine's error answer in OpenAI's format, status and message kept:
 * llama-server's `{"error":{"code":500,"message","type"}}` and vLLM's
 * OpenAI-shaped errors are read; any other body becomes the message as text.
 * A 5xx carries `x-should-retry: false`, which the OpenAI SDKs honour, so a
 * client does not re-send a request that fails the same way every time.
 */
export function engineError(status: number, body: string, replicaId: string): OpenAIError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const outer = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const inner =
    typeof outer.error === "object" && outer.error !== null
      ? (outer.error as Record<string, unknown>)
      : outer;
  const text = body.trim().slice(0, 1000);
  const message =
    stringOr(inner.message, null) ??
    stringOr(outer.error, null) ??
    (text !== "" && parsed === undefined ? text : `The engine answered HTTP ${status}.`);
  const type = stringOr(inner.type, status < 500 ? "invalid_request_error" : "server_error") as string;
  const param = stringOr(inner.param, LLAMA_CPP_FIELD.exec(message)?.[1] ?? null);
  const headers: Record<string, string> = { "x-strata-replica": replicaId };
  if (status >= 500) headers["x-should-retry"] = "false";
  return new OpenAIError(status, type, message, { param, code: stringOr(inner.code, null), headers });
}
