import { type Agent, type IncomingMessage, type OutgoingHttpHeaders, request } from "node:http";
import { RETRYABLE_STATUSES } from "./engine-error.js";

/** Why an attempt at a head failed before any byte reached the client. */
export type AttemptFailure = "connect" | "reset" | "timeout" | "status_5xx" | "aborted";

/** An attempt that failed before the response started; the request may go to another head. */
export class UpstreamAttemptError extends Error {
  override readonly name: string = "UpstreamAttemptError";
  readonly reason: AttemptFailure;
  /** The socket was a reused keep-alive one that the head had closed: safe to retry on the same head. */
  readonly staleSocket: boolean;

  constructor(reason: AttemptFailure, message: string, staleSocket = false, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
    this.staleSocket = staleSocket;
  }
}

/** Errors meaning the head cannot be reached at all (it is down or gone), not a dropped request. */
const connectErrors = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

export interface UpstreamCall {
  /** Resolves with the head's response once headers arrived, unless its status is a retryable one. */
  readonly response: Promise<IncomingMessage>;
  /** Aborts the call at any point (client went away). */
  abort(): void;
}

/**
 * Sends one POST to a head over a keep-alive agent. A refused or reset
 * connection, a header timeout, or a status another head may not share (502,
 * 503, 504: see engine-error.ts) rejects with UpstreamAttemptError; that body
 * is drained so the socket is reused. Other answers, errors included, resolve.
 */
export function callUpstream(
  agent: Agent,
  baseUrl: URL,
  path: string,
  headers: OutgoingHttpHeaders,
  body: Buffer,
  headersTimeoutMs: number,
): UpstreamCall {
  let abort = (): void => {};
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({
      agent,
      host: baseUrl.hostname,
      port: baseUrl.port === "" ? 80 : Number(baseUrl.port),
      method: "POST",
      path: `${baseUrl.pathname.replace(/\/$/, "")}${path}`,
      headers: { ...headers, "content-length": body.length },
    });
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new UpstreamAttemptError("timeout", `no response headers within ${headersTimeoutMs} ms`));
    }, headersTimeoutMs);
    abort = () => {
      req.destroy();
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new UpstreamAttemptError("aborted", "client disconnected"));
    };
    req.on("response", (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      const status = res.statusCode ?? 502;
      if (RETRYABLE_STATUSES.has(status)) {
        // Keep the start of the head's answer for the log and the 502; drain the rest so the socket is reused.
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          if (text.length < 300) text += c;
        });
        res.on("end", () =>
          reject(new UpstreamAttemptError("status_5xx", `head answered ${status}: ${text.slice(0, 300)}`)),
        );
        res.on("error", () => reject(new UpstreamAttemptError("status_5xx", `head answered ${status}`)));
        return;
      }
      resolve(res);
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const reason: AttemptFailure = connectErrors.has(err.code ?? "") ? "connect" : "reset";
      reject(
        new UpstreamAttemptError(reason, `${err.code ?? "error"}: ${err.message}`, req.reusedSocket, {
          cause: err,
        }),
      );
    });
    req.end(body);
  });
  return { response, abort: () => abort() };
}
