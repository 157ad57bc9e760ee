import { type ChildProcess, fork } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { WORKER_CONFIG_ENV, type WorkerConfig } from "./config.js";
import type { WorkerMessage } from "./messages.js";

/** Path of the worker process entry point. */
export const workerMainPath: string = fileURLToPath(new URL("./main.js", import.meta.url));

const STOP_GRACE_MS = 8000;

/** The worker exited or reported failure before it was ready. */
export class WorkerStartError extends Error {
  override readonly name = "WorkerStartError";
  constructor(
    message: string,
    readonly logTail: readonly string[],
  ) {
    super(message);
  }
}

type ReadyMessage = Extract<WorkerMessage, { type: "ready" }>;

/**
 * One shard-worker child process in its own process group (so stopping the
 * group also stops the engine it runs). Its output lines go to `log`. Used by
 * the local supervisor (`strata up`) and by benchmarks.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  private readonly listeners = new Set<(message: WorkerMessage) => void>();

  constructor(
    readonly name: string,
    config: WorkerConfig,
    log: (line: string) => void,
    /** Extra environment, e.g. STRATA_CONTROL_CONFIG to join the control plane. */
    env: Readonly<Record<string, string>> = {},
  ) {
    this.child = fork(workerMainPath, [], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, ...env, [WORKER_CONFIG_ENV]: JSON.stringify(config) },
    });
    const forward = (line: string) => log(line);
    if (this.child.stdout) createInterface({ input: this.child.stdout }).on("line", forward);
    if (this.child.stderr) createInterface({ input: this.child.stderr }).on("line", forward);
    this.child.on("message", (message: WorkerMessage) => {
      for (const listener of this.listeners) listener(message);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  onMessage(listener: (message: WorkerMessage) => void): void {
    this.listeners.add(listener);
  }

  /** Resolves with the worker's ready message; rejects if it fails or exits first. */
  ready(): Promise<ReadyMessage> {
    return new Promise<ReadyMessage>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(new WorkerStartError(`${this.name} exited during start-up (${signal ?? `code ${code}`})`, []));
      this.child.once("exit", onExit);
      this.onMessage((message) => {
        if (message.type === "ready") {
          this.child.off("exit", onExit);
          resolve(message);
        } else if (message.type === "failed") {
          this.child.off("exit", onExit);
          reject(new WorkerStartError(message.message, message.logTail));
        }
      });
    });
  }

  /** SIGTERM to the worker (it stops its engine), then SIGKILL to its whole group. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      this.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
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
