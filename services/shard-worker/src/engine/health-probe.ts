/**
 * The worker's own probe of its engine, reported in every heartbeat. A
 * heartbeat alone proves that the worker's timer runs, not that its engine
 * answers; the controller recreates a group whose stage fails
 * HUNG_AFTER_PROBE_FAILURES probes in a row.
 *
 * - Process probe (every stage, every heartbeat interval): the engine process
 *   exists and is not stopped (SIGSTOP) or a zombie, read from /proc. A stage's
 *   ggml-rpc-server serves one connection at a time and the head holds it, so
 *   nothing else can ask it a question; a stage hung in another way stops the
 *   head's canary, which crosses every stage.
 * - Canary (the head, at a slower rate): a 1-token completion sent to the
 *   engine, which must answer within the canary interval. A canary that is
 *   late while the engine is still streaming tokens to clients is not a
 *   failure: the engine is busy, not hung.
 */
import { readFile } from "node:fs/promises";
import type { EngineProbe } from "@strata/core";

/** How often the head sends its canary, and how long one may take. */
export const CANARY_INTERVAL_MS = 3_000;

export type ProcessState = "running" | "stopped" | "zombie" | "gone";

/** The state letter of /proc/<pid>/stat, reduced to what the probe cares about. */
export function parseProcStat(stat: string): ProcessState {
  // "pid (comm) S ...": comm may hold spaces and parentheses; the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  if (state === "T" || state === "t") return "stopped";
  if (state === "Z" || state === "X" || state === "x") return "zombie";
  return "running";
}

export async function readProcessState(pid: number): Promise<ProcessState> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return "gone";
  }
}

/** Counts consecutive failures of one kind of probe. */
class FailureCount {
  failures = 0;
  detail: string | undefined;
  checked = false;

  pass(): void {
    this.failures = 0;
    this.detail = undefined;
    this.checked = true;
  }

  fail(detail: string): void {
    this.failures++;
    this.detail = detail;
    this.checked = true;
  }

  reset(): void {
    this.failures = 0;
    this.detail = undefined;
    this.checked = false;
  }

  report(kind: EngineProbe["kind"], intervalMs: number): EngineProbe | undefined {
    if (!this.checked) return undefined;
    return {
      kind,
      ok: this.failures === 0,
      failures: this.failures,
      intervalMs,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
    };
  }
}

export interface EngineHealthOptions {
  /** The engine's pid now; undefined while it is not running. */
  readonly pid: () => number | undefined;
  /** True while the engine is up; probes pause (and forget their failures) otherwise. */
  readonly active: () => boolean;
  readonly processIntervalMs: number;
  /** The head's canary; stages have none. */
  readonly canary?: {
    /** Sends a 1-token completion; resolves when the engine answered, rejects otherwise. */
    readonly send: (signal: AbortSignal) => Promise<void>;
    /** When the engine last streamed output to a client (ms since the epoch). */
    readonly lastOutputAtMs: () => number;
    readonly intervalMs: number;
  };
  readonly readState?: (pid: number) => Promise<ProcessState>;
  readonly now?: () => number;
}

/** The engine's health: the process probe and, on the head, the canary; reports the worse. */
export class EngineHealth {
  readonly #options: EngineHealthOptions;
  readonly #now: () => number;
  readonly #process = new FailureCount();
  readonly #canary = new FailureCount();
  readonly #timers: NodeJS.Timeout[] = [];
  #inFlight: { startedAtMs: number; abort: AbortController } | undefined;
  #stopped = false;

  constructor(options: EngineHealthOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    const process = setInterval(() => void this.checkProcess(), this.#options.processIntervalMs);
    this.#timers.push(process);
    const canary = this.#options.canary;
    if (canary) this.#timers.push(setInterval(() => this.tickCanary(), canary.intervalMs));
    for (const t of this.#timers) t.unref();
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.splice(0)) clearInterval(t);
    this.#inFlight?.abort.abort();
  }

  /** What the next heartbeat carries; undefined until the engine was first probed. */
  latest(): EngineProbe | undefined {
    const canaryInterval = this.#options.canary?.intervalMs ?? this.#options.processIntervalMs;
    const process = this.#process.report("process", this.#options.processIntervalMs);
    const canary = this.#canary.report("canary", canaryInterval);
    if (process && !process.ok && (!canary || canary.ok || process.failures >= canary.failures))
      return process;
    return canary ?? process;
  }

  async checkProcess(): Promise<void> {
    const pid = this.#options.pid();
    if (!this.#options.active() || pid === undefined) {
      this.#process.reset();
      return;
    }
    const state = await (this.#options.readState ?? readProcessState)(pid);
    if (this.#stopped) return;
    if (state === "running") this.#process.pass();
    else if (state === "stopped") this.#process.fail(`engine process ${pid} is stopped (SIGSTOP)`);
    else if (state === "zombie") this.#process.fail(`engine process ${pid} is a zombie`);
    // "gone": it exited; the supervisor reports that and restarts it.
  }

  /**
   * One canary interval. Case 1: the engine is down: forget. Case 2: no canary
   * out: send one. Case 3: the canary out is late and the engine streamed nothing
   * since it was sent: a failure, and it keeps waiting. Case 4: late but the
   * engine is streaming to clients: busy, not hung.
   */
  tickCanary(): void {
    const canary = this.#options.canary;
    if (!canary || this.#stopped) return;
    if (!this.#options.active()) {
      this.#inFlight?.abort.abort();
      this.#inFlight = undefined;
      this.#canary.reset();
      return;
    }
    const now = this.#now();
    const out = this.#inFlight;
    if (out === undefined) {
      this.#sendCanary(now);
      return;
    }
    if (now - out.startedAtMs < canary.intervalMs) return;
    if (canary.lastOutputAtMs() > out.startedAtMs) {
      this.#canary.pass();
      out.startedAtMs = now;
      return;
    }
    this.#canary.fail(
      `no answer to a 1-token canary in ${Math.round((now - out.startedAtMs) / 100) / 10} s and no tokens streamed`,
    );
    out.startedAtMs = now;
  }

  #sendCanary(now: number): void {
    const canary = this.#options.canary;
    if (!canary) return;
    const abort = new AbortController();
    const entry = { startedAtMs: now, abort };
    this.#inFlight = entry;
    canary
      .send(abort.signal)
      .then(() => {
        if (this.#inFlight === entry) this.#canary.pass();
      })
      .catch((err: unknown) => {
        if (this.#inFlight !== entry || abort.signal.aborted) return;
        this.#canary.fail(`canary failed: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        if (this.#inFlight === entry) this.#inFlight = undefined;
      });
  }
}

/** A 1-token completion straight to llama-server (not through the front: no request span). */
export function llamaServerCanary(enginePort: number): (signal: AbortSignal) => Promise<void> {
  return async (signal) => {
    const response = await fetch(`http://127.0.0.1:${enginePort}/completion`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "ok", n_predict: 1, cache_prompt: false }),
      signal,
    });
    await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  };
}
