import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A control-plane binary running in its own process group, its output in a
 * log file (never a pipe, so a detached process outlives `npm run k8s:up`).
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process exits; never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** Set once the process has exited. */
  exit: ProcessExit | undefined;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Thrown when a component exits or fails to become ready; the message carries its log tail. */
export class ComponentError extends Error {
  override readonly name = "ComponentError";
}

const STOP_GRACE_MS = 5_000;

/** Process groups of this Node process, killed on exit so that a crashed test run leaves nothing behind. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const pid of liveGroups) killGroup(pid, "SIGKILL");
  };
  process.on("exit", killAll);
  // A signal ends Node without "exit": clean up, then die of the same signal as before.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAll();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export interface StartOptions {
  readonly logDir: string;
  /** Leave the process running after this Node process exits (for `npm run k8s:up`). */
  readonly outliveParent?: boolean;
  /**
   * `cgroup.procs` files (one per hierarchy) the process joins before it
   * execs, so it is born in the cgroup: real nodes' teardown, and the next run
   * after a crash, find every process there.
   */
  readonly cgroupProcs?: readonly string[];
}

/** Joins the cgroups listed in $STRATA_CGROUP_PROCS, then becomes the command (same pid). */
const JOIN_CGROUPS_SH =
  'IFS=:; for f in $STRATA_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; unset IFS STRATA_CGROUP_PROCS; exec "$@"';

export function startProcess(
  name: string,
  bin: string,
  args: readonly string[],
  opts: StartOptions,
): ManagedProcess {
  const logPath = join(opts.logDir, `${name}.log`);
  const log = openSync(logPath, "a");
  const cgroups = opts.cgroupProcs ?? [];
  const child =
    cgroups.length === 0
      ? spawn(bin, args, { detached: true, stdio: ["ignore", log, log] })
      : spawn("sh", ["-c", JOIN_CGROUPS_SH, "sh", bin, ...args], {
          detached: true,
          stdio: ["ignore", log, log],
          env: { ...process.env, STRATA_CGROUP_PROCS: cgroups.join(":") },
        });
  closeSync(log);
  let resolveExit: (exit: ProcessExit) => void = () => {};
  const exited = new Promise<ProcessExit>((resolve) => {
    resolveExit = resolve;
  });
  const managed: ManagedProcess = { name, pid: child.pid ?? -1, logPath, exited, exit: undefined };
  const onExit = (exit: ProcessExit): void => {
    if (managed.exit !== undefined) return;
    managed.exit = exit;
    liveGroups.delete(managed.pid);
    resolveExit(exit);
  };
  child.on("error", () => onExit({ code: null, signal: null }));
  child.on("exit", (code, signal) => onExit({ code, signal }));
  if (child.pid === undefined) {
    onExit({ code: null, signal: null });
    return managed;
  }
  if (opts.outliveParent === true) {
    child.unref();
  } else {
    installExitHook();
    liveGroups.add(child.pid);
  }
  return managed;
}

/** SIGTERM to the process group, SIGKILL after a grace period; resolves once it is gone. */
export async function stopProcess(proc: ManagedProcess): Promise<void> {
  if (proc.exit !== undefined || proc.pid < 0) return;
  killGroup(proc.pid, "SIGTERM");
  const timer = setTimeout(() => killGroup(proc.pid, "SIGKILL"), STOP_GRACE_MS);
  await proc.exited;
  clearTimeout(timer);
  killGroup(proc.pid, "SIGKILL"); // anything the process left in its group
}

/** Stops a process group known only by its id (from `npm run k8s:up`'s state file). */
export async function stopProcessGroup(pid: number): Promise<void> {
  if (!groupAlive(pid)) return;
  killGroup(pid, "SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
  killGroup(pid, "SIGKILL");
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * True while the group's leader runs. A leader whose parent has exited (after
 * `k8s:up`) stays a zombie until init reaps it, so /proc's state counts, not kill(pid, 0).
 */
function groupAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

export async function logTail(proc: ManagedProcess, lines = 25): Promise<string> {
  try {
    const text = await readFile(proc.logPath, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
