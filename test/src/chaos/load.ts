/**
 * Continuous load for the chaos scenarios: `clients` loops, each sending one
 * streamed completion after another through the gateway and recording how it
 * ended. A request that outlives its timeout is aborted and counted as hung.
 */

export type Outcome = "ok" | "failed" | "hung";

export interface RequestRecord {
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: Outcome;
  /** HTTP status, or 0 when no response came. */
  readonly status: number;
  readonly detail: string;
}

export interface LoadOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly model: string;
  readonly clients: number;
  /** Tokens per completion. */
  readonly maxTokens: number;
  readonly timeoutMs: number;
}

export class Load {
  readonly records: RequestRecord[] = [];
  readonly #options: LoadOptions;
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(options: LoadOptions) {
    this.#options = options;
  }

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.#options.clients }, () => this.#loop());
  }

  /** Stops sending; resolves once every request in flight has ended. */
  async stop(): Promise<RequestRecord[]> {
    this.#running = false;
    await Promise.all(this.#loops);
    return this.records;
  }

  count(outcome: Outcome, fromMs = 0, toMs = Number.POSITIVE_INFINITY): number {
    return this.records.filter((r) => r.outcome === outcome && r.startMs >= fromMs && r.startMs < toMs)
      .length;
  }

  /** End time of the first request started after `ms` that succeeded. */
  firstOkAfter(ms: number): number | undefined {
    return this.records
      .filter((r) => r.outcome === "ok" && r.startMs >= ms)
      .map((r) => r.endMs)
      .sort((a, b) => a - b)[0];
  }

  /** A few failures, for the report. */
  failureSample(n = 3): string[] {
    return this.records
      .filter((r) => r.outcome !== "ok")
      .slice(0, n)
      .map((r) => `${r.outcome} ${r.status} ${r.detail}`.trim());
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const record = await this.#one();
      this.records.push(record);
      // A refused request is not retried in a tight loop.
      if (record.outcome !== "ok") await new Promise((r) => setTimeout(r, 200));
    }
  }

  async #one(): Promise<RequestRecord> {
    const { url, model, maxTokens, timeoutMs } = this.#options;
    const startMs = Date.now();
    const end = (outcome: Outcome, status: number, detail = ""): RequestRecord => ({
      startMs,
      endMs: Date.now(),
      outcome,
      status,
      detail,
    });
    try {
      const response = await fetch(`${url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // Greedy: the same tokens every time. The test model's weights are random, and sampled
        // tokens can form byte sequences llama-server refuses to encode as UTF-8 (HTTP 500).
        body: JSON.stringify({
          model,
          prompt: "The chaos suite says",
          max_tokens: maxTokens,
          temperature: 0,
          stream: true,
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200 || !response.body) {
        const text = await response.text().catch(() => "");
        return end("failed", response.status, text.slice(0, 200));
      }
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of response.body) text += decoder.decode(chunk as Uint8Array, { stream: true });
      return text.includes("data: [DONE]")
        ? end("ok", 200)
        : end("failed", 200, `stream ended without [DONE]: ${text.slice(-200)}`);
    } catch (err: unknown) {
      const name = err instanceof Error ? err.name : "";
      if (name === "TimeoutError") return end("hung", 0, `no answer in ${timeoutMs} ms`);
      return end("failed", 0, err instanceof Error ? err.message : String(err));
    }
  }
}
