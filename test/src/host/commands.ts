import { spawn, spawnSync } from "node:child_process";

/** A host command failed; the message names it and carries its stderr tail. */
export class CommandError extends Error {
  override readonly name = "CommandError";
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Lower the command's CPU priority (`nice -n 10`): for builds on a shared machine. */
  readonly nice?: boolean;
  /** Called with each line of stdout and stderr, as it arrives. */
  readonly onLine?: (line: string) => void;
}

const STDERR_TAIL_CHARS = 4_000;

/** Runs a command to completion; resolves with its stdout, rejects with CommandError. */
export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const [file, argv] = opts.nice === true ? ["nice", ["-n", "10", cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let tail = "";
    let partial = "";
    const lines = (chunk: Buffer): void => {
      if (opts.onLine === undefined) return;
      const text = partial + chunk.toString("utf8");
      const parts = text.split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) if (line.trim() !== "") opts.onLine(line);
    };
    child.stdout.on("data", (chunk: Buffer) => {
      out.push(chunk);
      lines(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL_CHARS);
      lines(chunk);
    });
    child.on("error", (err) =>
      reject(new CommandError(`${cmd} failed to start: ${err.message}`, { cause: err })),
    );
    child.on("close", (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else
        reject(
          new CommandError(`${cmd} ${args.join(" ")} exited with ${signal ?? code}: ${tail.trim()}`.trim()),
        );
    });
  });
}

/** True when `cmd` runs from PATH. */
export function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}
