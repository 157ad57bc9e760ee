/**
 * Encoding and decoding of NATS payloads: JSON, validated against a schema on
 * both sides. Decoding never throws; it returns why a message was rejected so
 * a consumer can count it and move on.
 */
import type { z } from "zod";

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: "json" | "schema"; readonly message: string };

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

export function decodeMessage<S extends z.ZodType>(schema: S, data: Uint8Array): Decoded<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(utf8Decoder.decode(data));
  } catch (err: unknown) {
    return { ok: false, reason: "json", message: err instanceof Error ? err.message : String(err) };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? `${first.path.join(".")}: ` : "";
    return { ok: false, reason: "schema", message: `${where}${first?.message ?? "invalid"}` };
  }
  return { ok: true, value: parsed.data };
}

/** Validates before encoding: publishing a malformed message is a bug in the publisher. */
export function encodeMessage<S extends z.ZodType>(schema: S, value: z.input<S>): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(schema.parse(value)));
}
