/**
 * A lifeline for a program that cannot watch its parent itself (nats-server):
 * `node lifeline.js <command> [args…]`, started by `spawnWithLifeline` with an
 * IPC channel. It runs the command as its own child in its process group and
 * forwards its output. When the channel closes because the parent died, even
 * by SIGKILL, it kills the whole group, so no broker outlives its supervisor.
 * SIGTERM and SIGINT are passed on; it exits with the command's status.
 */
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write("lifeline: no command given\n");
  process.exit(2);
}

const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });
const killGroup = () => {
  try {
    process.kill(-process.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
    process.exit(137);
  }
};
child.once("error", (err) => {
  process.stderr.write(`lifeline: ${command}: ${err.message}\n`);
  process.exit(127);
});
child.once("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
if (process.connected) process.once("disconnect", killGroup);
else killGroup();
