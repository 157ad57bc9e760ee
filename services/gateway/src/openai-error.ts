import type { ServerResponse } from "node:http";

/**
 * An error answered to the client in OpenAI's error format:
 * `{"error":{"message","type","param","code"}}`
 * (https://platform.openai.com/docs/guides/error-codes/api-errors).
 * Thrown anywhere in request handling and converted at the HTTP boundary only.
 */
export class OpenAIError extends Error {
  override readonly name: string = "OpenAIError";
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers, e.g. Retry-After on 429. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    type: string,
    message: string,
    options: {
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.type = type;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  body(): string {
    return JSON.stringify({
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    });
  }
}

/** 400: the request is malformed or a parameter has the wrong type or range. */
export function invalidRequest(message: string, param: string | null = null, code: string | null = null) {
  return new OpenAIError(400, "invalid_request_error", message, { param, code });
}

/** Writes `err` to `res` unless headers already went out (then the socket is closed instead). */
export function sendError(res: ServerResponse, err: OpenAIError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = err.body();
  res.writeHead(err.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...err.headers,
  });
  res.end(body);
}
