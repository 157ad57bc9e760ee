import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** Lines of a worker's output kept to explain a failed start. */
const TAIL_LINES = 40;
const READY_POLL_MS = 200;
const STOP_GRACE_MS = 8_000;

/** A worker exited, or never became ready, during start-up. */
export class WorkerStartError extends Error {
  override readonly name = "WorkerStartError";
  constructor(
    message: string,
    /** The worker's last output lines, oldest first. */
    readonly tail: readonly string[],
  ) {
    super(message);
  }
}

export interface WorkerProcessOptions {
  /** For logs and errors, e.g. "stage-1 worker". */
  readonly name: string;
  /** The worker command, e.g. [node, strata.js, "worker"]: the same command a pod runs. */
  readonly command: readonly string[];
  /** The worker contract's variables (core `workerEnv`), added to this process's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The worker's HTTP port, where /readyz answers. */
  readonly httpPort: number;
  readonly log: (line: string) => void;
  /** How long a worker may take to stop its engine before its process group is killed (default 8 s). */
  readonly stopGraceMs?: number;
}

/** What a worker's /readyz said when it turned ready. */
export type ReadyReport = Readonly<Record<string, unknown>>;

/**
 * One `strata worker` process, started the way a pod starts it: the contract's
 * environment variables and nothing else. It runs in its own process group (so
 * stopping the group stops its engine), and holds an IPC channel as a
 * lifeline: a worker whose supervisor disappears, even by SIGKILL, sees the
 * channel close and stops.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly #tail: string[] = [];
  readonly #options: WorkerProcessOptions;

  constructor(options: WorkerProcessOptions) {
    this.#options = options;
    const [command, ...args] = options.command;
    if (command === undefined) throw new Error("empty worker command");
    this.child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, ...options.env },
    });
    const forward = (line: string) => {
      this.#tail.push(line);
      if (this.#tail.length > TAIL_LINES) this.#tail.shift();
      options.log(line);
    };
    if (this.child.stdout) createInterface({ input: this.child.stdout }).on("line", forward);
    if (this.child.stderr) createInterface({ input: this.child.stderr }).on("line", forward);
    // The channel is only a lifeline; an error on it must not end the supervisor.
    this.child.on("error", (err) => forward(`spawn error: ${err.message}`));
  }

  get name(): string {
    return this.#options.name;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The worker's last output lines. */
  get tail(): readonly string[] {
    return [...this.#tail];
  }

  /**
   * Polls /readyz until it answers 200 and resolves with its JSON body.
   * @throws WorkerStartError when the worker exits first or `timeoutMs` passes
   */
  async ready(timeoutMs: number): Promise<ReadyReport> {
    const deadline = Date.now() + timeoutMs;
    const url = `http://127.0.0.1:${this.#options.httpPort}/readyz`;
    while (Date.now() < deadline) {
      if (this.exited) {
        const how = this.child.signalCode ? `signal ${this.child.signalCode}` : `code ${this.child.exitCode}`;
        throw new WorkerStartError(`${this.name} exited during start-up (${how})`, this.tail);
      }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = (await response.json()) as ReadyReport;
        if (response.status === 200) return body;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
    throw new WorkerStartError(`${this.name} not ready after ${Math.round(timeoutMs / 1000)} s`, this.tail);
  }

  /** SIGTERM to the worker (it stops its engine), then SIGKILL to its whole group. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      this.child.kill("SIGTERM");
      const graceMs = this.#options.stopGraceMs ?? STOP_GRACE_MS;
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    }
    killGroup(pid, "SIGKILL");
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    if (this.child.pid !== undefined) killGroup(this.child.pid, "SIGKILL");
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
