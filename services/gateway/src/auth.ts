import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { OpenAIError } from "./openai-error.js";

const digest = (key: string): string => createHash("sha256").update(key).digest("hex");

/**
 * Bearer-token check against a fixed key set. Keys are held as SHA-256
 * digests so a lookup's timing says nothing about how much of a key matched.
 */
export class ApiKeyAuth {
  private readonly digests: ReadonlySet<string>;

  constructor(keys: Iterable<string>) {
    this.digests = new Set([...keys].map(digest));
  }

  /** Throws a 401 OpenAIError unless the request carries a known key. */
  check(headers: IncomingHttpHeaders): void {
    const header = headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new OpenAIError(
        401,
        "invalid_request_error",
        "You didn't provide an API key. Provide it in an Authorization header: 'Authorization: Bearer YOUR_KEY'.",
        { code: "missing_api_key" },
      );
    }
    if (!this.digests.has(digest(match[1]))) {
      const key = match[1];
      const shown = key.length > 8 ? `${key.slice(0, 3)}…${key.slice(-4)}` : "***";
      throw new OpenAIError(401, "invalid_request_error", `Incorrect API key provided: ${shown}.`, {
        code: "invalid_api_key",
      });
    }
  }
}
