import { type Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

/** What one streamed completion looked like from the client. */
export interface RequestSample {
  readonly target: string;
  /** When it was due and when it was sent, ms since the run started. */
  readonly scheduledMs: number;
  readonly startedMs: number;
  readonly status: number;
  readonly error: string | undefined;
  /** Time to first token, ms; undefined if none arrived. */
  readonly ttftMs: number | undefined;
  /** Gaps between consecutive token events, ms. */
  readonly itlMs: readonly number[];
  /** Time per output token after the first, ms. */
  readonly tpotMs: number | undefined;
  readonly totalMs: number;
  readonly outputTokens: number;
  readonly inputTokens: number | undefined;
  /** The gateway's own processing time (its Server-Timing header), ms. */
  readonly gatewayMs: number | undefined;
}

export interface StreamRequest {
  readonly target: string;
  readonly baseUrl: URL;
  readonly body: string;
  readonly scheduledMs: number;
  readonly runStart: number;
  readonly timeoutMs: number;
  readonly apiKey: string | undefined;
}

function textOf(choice: unknown): string {
  if (typeof choice !== "object" || choice === null) return "";
  const c = choice as { text?: unknown; delta?: { content?: unknown } };
  if (typeof c.text === "string") return c.text;
  return typeof c.delta?.content === "string" ? c.delta.content : "";
}

/** Sends one streaming completion and records token timings. Never rejects. */
export function streamCompletion(agent: Agent, r: StreamRequest, path: string): Promise<RequestSample> {
  const sent = performance.now();
  const times: number[] = [];
  let usageOut: number | undefined;
  let usageIn: number | undefined;
  let status = 0;
  let gatewayMs: number | undefined;
  return new Promise((resolve) => {
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const end = performance.now();
      const first = times[0];
      const last = times.at(-1);
      const out = usageOut ?? times.length;
      resolve({
        target: r.target,
        scheduledMs: r.scheduledMs,
        startedMs: sent - r.runStart,
        status,
        error: error ?? (status !== 200 ? `HTTP ${status}` : undefined),
        ttftMs: first === undefined ? undefined : first - sent,
        itlMs: times.slice(1).map((t, i) => t - (times[i] ?? t)),
        tpotMs: first !== undefined && last !== undefined && out > 1 ? (last - first) / (out - 1) : undefined,
        totalMs: end - sent,
        outputTokens: out,
        inputTokens: usageIn,
        gatewayMs,
      });
    };
    const req = request(
      {
        agent,
        host: r.baseUrl.hostname,
        port: r.baseUrl.port,
        method: "POST",
        path,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(r.body),
          ...(r.apiKey ? { authorization: `Bearer ${r.apiKey}` } : {}),
        },
      },
      (res) => {
        status = res.statusCode ?? 0;
        const timing = /gateway;dur=([\d.]+)/.exec(String(res.headers["server-timing"] ?? ""));
        if (timing?.[1]) gatewayMs = Number(timing[1]);
        let pending = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          const now = performance.now();
          pending += chunk;
          let end = pending.indexOf("\n\n");
          while (end !== -1) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            end = pending.indexOf("\n\n");
            const data = event.startsWith("data: ") ? event.slice(6) : "";
            if (data === "" || data === "[DONE]") continue;
            try {
              const obj = JSON.parse(data) as { choices?: unknown[]; usage?: Record<string, unknown> };
              if ((obj.choices ?? []).some((c) => textOf(c) !== "")) times.push(now);
              if (typeof obj.usage?.completion_tokens === "number") usageOut = obj.usage.completion_tokens;
              if (typeof obj.usage?.prompt_tokens === "number") usageIn = obj.usage.prompt_tokens;
            } catch {
              // A non-JSON event is not a token; skip it.
            }
          }
        });
        res.on("end", () => finish());
        res.on("error", (err) => finish(err.message));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(`timed out after ${r.timeoutMs} ms`);
    }, r.timeoutMs);
    req.on("error", (err) => finish(err.message));
    req.end(r.body);
  });
}
