/**
 * A nats-server with JetStream as a child process on a loopback port, for
 * tests and local mode. It runs under a lifeline (process/lifeline.ts) in its
 * own process group: stopping the group stops it, and so does this process
 * dying, even by SIGKILL. `kill()` and `start()` again on the same port and
 * store simulate an outage (the JetStream store survives, as it does on a
 * real restart).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnWithLifeline } from "../process/spawn-lifeline.js";
import { requireNatsServer } from "./binary.js";

export interface NatsServerOptions {
  /** Defaults to findNatsServer(). */
  readonly binary?: string;
  /** 0 (default) lets the server pick a free port. */
  readonly port?: number;
  /** JetStream store; a fresh temporary directory (removed on stop) by default. */
  readonly storeDir?: string;
  readonly startTimeoutMs?: number;
}

const defaultStartTimeoutMs = 60_000;
const liveServers = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** A parent that exits (normally or on SIGINT/SIGTERM handled elsewhere) takes its servers with it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of liveServers) killGroup(child, "SIGKILL");
  });
}

export class NatsServerProcess {
  readonly #binary: string;
  readonly #storeDir: string;
  readonly #ownsStore: boolean;
  readonly #startTimeoutMs: number;
  #port: number;
  #child: ChildProcess | undefined;
  #log = "";

  private constructor(binary: string, port: number, storeDir: string, ownsStore: boolean, timeoutMs: number) {
    this.#binary = binary;
    this.#port = port;
    this.#storeDir = storeDir;
    this.#ownsStore = ownsStore;
    this.#startTimeoutMs = timeoutMs;
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServerProcess> {
    const binary = options.binary ?? (await requireNatsServer());
    const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), "strata-nats-")));
    const server = new NatsServerProcess(
      binary,
      options.port ?? 0,
      storeDir,
      options.storeDir === undefined,
      options.startTimeoutMs ?? defaultStartTimeoutMs,
    );
    await server.start();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The server's log so far (for test failure messages). */
  get log(): string {
    return this.#log;
  }

  /** Starts (or restarts, on the same port and store) the server; resolves when it accepts clients. */
  async start(): Promise<void> {
    if (this.#child) return;
    installExitHook();
    const args = ["-a", "127.0.0.1", "-p", this.#port === 0 ? "-1" : String(this.#port)];
    args.push("-js", "-sd", this.#storeDir, "-n", "strata-local");
    const child = spawnWithLifeline(this.#binary, args);
    this.#child = child;
    liveServers.add(child);
    const ready = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server did not start in ${this.#startTimeoutMs} ms:\n${this.#log}`)),
        this.#startTimeoutMs,
      );
      let out = "";
      const onOutput = (chunk: Buffer): void => {
        this.#log = (this.#log + chunk.toString()).slice(-64 * 1024);
        out += chunk.toString();
        const listening = /Listening for client connections on [^\s]*:(\d+)/.exec(out);
        if (listening && /Server is ready/.test(out)) {
          out = "";
          clearTimeout(timer);
          resolve(Number(listening[1]));
        }
      };
      child.stdout?.on("data", onOutput);
      child.stderr?.on("data", onOutput);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${signal ?? code}) before it was ready:\n${this.#log}`));
      });
    });
    child.once("exit", () => {
      liveServers.delete(child);
      if (this.#child === child) this.#child = undefined;
    });
    try {
      this.#port = await ready;
    } catch (err: unknown) {
      killGroup(child, "SIGKILL");
      this.#child = undefined;
      throw err;
    }
  }

  /** SIGKILL, no goodbye: what a crash or a pulled cable looks like to clients. */
  async kill(): Promise<void> {
    await this.#stopWith("SIGKILL");
  }

  /** Stops the server and removes its store when it made it. */
  async stop(): Promise<void> {
    await this.#stopWith("SIGTERM");
    if (this.#ownsStore) await rm(this.#storeDir, { recursive: true, force: true });
  }

  async #stopWith(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    killGroup(child, signal);
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
    this.#child = undefined;
  }
}
