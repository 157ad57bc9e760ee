import type { IncomingMessage } from "node:http";
import { OpenAIError } from "./openai-error.js";

/**
 * Reads a request body up to `maxBytes`. Rejects with 413 as soon as the
 * declared or received size passes the limit and 408 when the client stalls,
 * so a slow or huge upload never holds the gateway.
 */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const tooLarge = () =>
    new OpenAIError(413, "invalid_request_error", `Request body exceeds the limit of ${maxBytes} bytes.`, {
      code: "request_too_large",
    });
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = (err?: OpenAIError) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      if (err) reject(err);
      else resolve(Buffer.concat(parts, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) done(tooLarge());
      else parts.push(chunk);
    };
    const onEnd = () => done();
    const onError = () =>
      done(new OpenAIError(400, "invalid_request_error", "The request body was cut off."));
    const timer = setTimeout(
      () =>
        done(
          new OpenAIError(408, "invalid_request_error", `Request body not received within ${timeoutMs} ms.`, {
            code: "request_timeout",
          }),
        ),
      timeoutMs,
    );
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
