import type { LiveEnv } from "../controller/live-fixture.js";
import type { StrataRun } from "../e2e/strata-up.js";

/** One `strata up` (2 stages of the test model) shared by the loopback scenarios. */
export interface LocalUp {
  readonly run: StrataRun;
  /** The gateway's base URL. */
  readonly url: string;
}

/** A requirement a scenario checks: the suite fails when one does not hold. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ScenarioResult {
  /** Figures for the table and the JSON line: seconds, counts. */
  readonly figures: Record<string, number>;
  readonly checks: readonly Check[];
  /** How it was set up, for the report (e.g. "KWOK pods with real workers behind them"). */
  readonly notes: readonly string[];
}

export interface ChaosContext {
  /** The shared test cluster (control plane, NATS, test model), started on first use. */
  live(): Promise<LiveEnv>;
  /** A running `strata up`, started on first use; a scenario that kills it calls `upGone()` (it is still cleaned up at the end). */
  up(): Promise<LocalUp>;
  upGone(): void;
  log(line: string): void;
}

export interface Scenario {
  /** Key in the JSON line. */
  readonly name: string;
  /** One line: what is done and what is measured. */
  readonly title: string;
  run(ctx: ChaosContext): Promise<ScenarioResult>;
}

export const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

export const seconds = (fromMs: number, toMs: number): number => Math.round((toMs - fromMs) / 100) / 10;

export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
