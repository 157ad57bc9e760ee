/**
 * Polls the engine's own endpoints once per interval and keeps the latest
 * figures for heartbeats and /metrics. A failed read is counted and the
 * previous figures are dropped (stale load is worse than none).
 */
import type { EngineFigures } from "./llama-metrics.js";
import { scrapeLlamaServer } from "./llama-metrics.js";
import type { EngineFiguresSource } from "./worker-metrics.js";

export class EngineScraper implements EngineFiguresSource {
  #latest: EngineFigures | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;

  constructor(
    private readonly baseUrl: string,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly scrape: (baseUrl: string) => Promise<EngineFigures> = scrapeLlamaServer,
  ) {}

  latest(): EngineFigures | undefined {
    return this.#latest;
  }

  start(): void {
    void this.poll();
    this.#timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async poll(): Promise<void> {
    if (this.#inFlight) return;
    this.#inFlight = true;
    try {
      this.#latest = await this.scrape(this.baseUrl);
    } catch (err: unknown) {
      this.#latest = undefined;
      this.onError(err);
    } finally {
      this.#inFlight = false;
    }
  }
}
