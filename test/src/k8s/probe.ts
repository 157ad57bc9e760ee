import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { ComponentError, logTail, type ManagedProcess, sleep } from "./processes.js";

export interface ProbeOptions {
  /** CA that signed the server's certificate; without it the certificate is not verified (loopback only). */
  readonly ca?: string;
  readonly token?: string;
}

/** GET a health endpoint on loopback; true on HTTP 200. Connection errors count as "not yet". */
export function probe(url: string, opts: ProbeOptions = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    const done = (ok: boolean): void => resolve(ok);
    const req =
      u.protocol === "https:"
        ? httpsRequest(u, {
            headers,
            timeout: 2_000,
            agent: false,
            ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
          })
        : httpRequest(u, { headers, timeout: 2_000, agent: false });
    req.on("response", (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => done(false));
    req.end();
  });
}

const POLL_INTERVAL_MS = 150;

/**
 * Polls `check` until it holds. Fails early, with the log tail, when one of
 * `watch` exits; fails at the deadline with the tails of all of them.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  watch: readonly ManagedProcess[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = watch.find((p) => p.exit !== undefined);
    if (dead !== undefined) {
      const how = dead.exit?.signal ?? `code ${dead.exit?.code}`;
      throw new ComponentError(
        `${dead.name} exited (${how}) while waiting for ${what}:\n${await logTail(dead)}`,
      );
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      const tails = await Promise.all(
        watch.map(async (p) => `--- ${p.name} (${p.logPath})\n${await logTail(p, 10)}`),
      );
      throw new ComponentError(`timed out after ${timeoutMs} ms waiting for ${what}\n${tails.join("\n")}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}
