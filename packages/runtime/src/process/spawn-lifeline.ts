import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const LIFELINE = fileURLToPath(new URL("./lifeline.js", import.meta.url));

/**
 * Starts `command` under a lifeline (lifeline.ts): a small Node process that
 * leads a new process group, runs the command in it and kills the group when
 * this process dies, however it dies. The returned child is the lifeline; its
 * output is the command's, and signalling its group (`process.kill(-pid)`)
 * reaches both. The IPC channel does not keep this process alive.
 */
export function spawnWithLifeline(command: string, args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [LIFELINE, command, ...args], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  child.channel?.unref();
  return child;
}
