import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { ReadinessProbe } from "./probes.js";

export interface EngineProcessSpec {
  /** Log prefix, e.g. "stage-1 rpc-server". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly readiness: ReadinessProbe;
  /** Give up on a start (and report its log tail) after this long. */
  readonly readyTimeoutMs: number;
  /**
   * Which output lines go to the log (all by default). Every line still
   * reaches `onLine` listeners and the start-up error tail.
   */
  readonly logLine?: (line: string) => boolean;
  /**
   * What an exit after the first start means. "restart" (default): start the
   * engine again with backoff. "fail": emit `exited` and nothing more (a vLLM
   * node cannot rejoin its group alone; the whole group restarts).
   */
  readonly onExit?: "restart" | "fail";
  /**
   * Run the engine in a process group of its own and stop the whole group,
   * waiting until every member is gone (vLLM's API server, engine core and
   * workers are separate processes that clean up shared memory on SIGTERM).
   */
  readonly ownProcessGroup?: boolean;
  /** Grace between SIGTERM and SIGKILL on stop (default 5 s). */
  readonly stopGraceMs?: number;
}

export interface RestartPolicy {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** A run that stayed up this long resets the backoff. */
  readonly stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialBackoffMs: 250,
  maxBackoffMs: 5000,
  stableAfterMs: 30_000,
};

const READINESS_POLL_MS = 100;
const STOP_GRACE_MS = 5000;
const LOG_TAIL_LINES = 40;

/** Lifecycle events, for heartbeats, metrics and tests. */
export type EngineEvent =
  | { type: "started"; pid: number }
  | { type: "ready"; pid: number; startMs: number }
  | { type: "exited"; pid: number; code: number | null; signal: NodeJS.Signals | null }
  | { type: "restarting"; attempt: number; backoffMs: number };

/** The engine exited or never answered during its first start. */
export class EngineStartError extends Error {
  override readonly name = "EngineStartError";
  constructor(
    message: string,
    readonly logTail: readonly string[],
  ) {
    super(message);
  }
}

export interface SupervisorDeps {
  readonly log: (line: string) => void;
  readonly policy?: RestartPolicy;
}

/**
 * Runs one engine process: waits for readiness, forwards its output with a
 * prefix, restarts it with exponential backoff when it dies after having been
 * ready (unless told to fail instead), and stops it (SIGTERM, then SIGKILL)
 * on request. The child stays in the worker's process group, so whoever stops
 * the worker's group stops it too, unless it asks for a group of its own.
 */
export class EngineSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private attempt = 0;
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly tail: string[] = [];
  private readonly policy: RestartPolicy;
  private lastReadyAt: number | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly spec: EngineProcessSpec,
    private readonly deps: SupervisorDeps,
  ) {
    this.policy = deps.policy ?? DEFAULT_RESTART_POLICY;
  }

  onEvent(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every line the engine prints (stdout and stderr), unprefixed. */
  onLine(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the engine and resolves once it is ready; rejects with EngineStartError. */
  async start(): Promise<void> {
    const child = this.spawnChild();
    await this.waitReady(child);
    this.lastReadyAt = Date.now();
    child.once("exit", () => this.scheduleRestart(Date.now()));
  }

  /** True while the engine process runs. */
  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /**
   * Kills the running engine so the restart policy brings up a fresh one, e.g.
   * when state it depends on elsewhere (a remote stage) was lost.
   */
  restartNow(reason: string): void {
    const child = this.child;
    if (this.stopping || !child || child.exitCode !== null || child.signalCode !== null) return;
    this.deps.log(`[${this.spec.name}] restarting: ${reason}`);
    child.kill("SIGKILL");
  }

  /** A restart is waiting out its backoff. */
  get restartScheduled(): boolean {
    return this.restartTimer !== undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (this.spec.ownProcessGroup && child?.pid !== undefined) {
      await stopProcessGroup(child.pid, this.spec.stopGraceMs ?? STOP_GRACE_MS);
      return;
    }
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), this.spec.stopGraceMs ?? STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private spawnChild(): ChildProcess {
    const child = spawn(this.spec.command, [...this.spec.args], {
      env: this.spec.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: this.spec.ownProcessGroup ?? false,
    });
    this.child = child;
    const forward = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
      if (this.spec.logLine?.(line) ?? true) this.deps.log(`[${this.spec.name}] ${line}`);
      for (const listener of this.lineListeners) listener(line);
    };
    if (child.stdout) createInterface({ input: child.stdout }).on("line", forward);
    if (child.stderr) createInterface({ input: child.stderr }).on("line", forward);
    child.on("error", (err) => forward(`spawn error: ${err.message}`));
    // However this process ends (even by an uncaught error), the engine ends with it.
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", (code, signal) => {
      process.off("exit", killOnExit);
      this.emit({ type: "exited", pid: child.pid ?? -1, code, signal });
    });
    if (child.pid !== undefined) this.emit({ type: "started", pid: child.pid });
    return child;
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const startedAt = Date.now();
    const deadline = startedAt + this.spec.readyTimeoutMs;
    const exited = () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
    while (!this.stopping) {
      if (exited()) {
        const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
        throw new EngineStartError(`${this.spec.name} exited during start-up (${how})`, [...this.tail]);
      }
      if (await this.spec.readiness()) {
        if (exited()) continue;
        this.emit({ type: "ready", pid: child.pid ?? -1, startMs: Date.now() - startedAt });
        return;
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new EngineStartError(`${this.spec.name} not ready after ${this.spec.readyTimeoutMs} ms`, [
          ...this.tail,
        ]);
      }
      await new Promise((resolve) => setTimeout(resolve, READINESS_POLL_MS));
    }
  }

  private scheduleRestart(exitedAt: number): void {
    if (this.stopping || this.spec.onExit === "fail") return;
    const upFor = exitedAt - (this.lastReadyAt ?? exitedAt);
    if (upFor >= this.policy.stableAfterMs) this.attempt = 0;
    this.attempt++;
    const backoffMs = Math.min(
      this.policy.maxBackoffMs,
      this.policy.initialBackoffMs * 2 ** (this.attempt - 1),
    );
    this.emit({ type: "restarting", attempt: this.attempt, backoffMs });
    this.deps.log(`[${this.spec.name}] exited; restarting in ${backoffMs} ms (attempt ${this.attempt})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, backoffMs);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    const child = this.spawnChild();
    try {
      await this.waitReady(child);
      this.lastReadyAt = Date.now();
    } catch (err: unknown) {
      this.deps.log(
        `[${this.spec.name}] restart failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (child.exitCode !== null || child.signalCode !== null) this.scheduleRestart(Date.now());
    else child.once("exit", () => this.scheduleRestart(Date.now()));
  }
}

const GROUP_POLL_MS = 100;

/**
 * SIGTERM to process group `pgid`, then wait until no member is left; SIGKILL
 * to the group after `graceMs`. Members that ignore both are left to init.
 */
async function stopProcessGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(GROUP_POLL_MS);
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, "SIGKILL");
  const killDeadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < killDeadline) await sleep(GROUP_POLL_MS);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone.
  }
}

/** A group whose members are all zombies still answers kill(0); reaped children do not. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
