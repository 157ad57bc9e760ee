/**
 * Real llama-server processes as replica heads for the gateway tests, each in
 * its own process group on a free loopback port, killed with the group.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { freeLoopbackPort } from "@strata/runtime";
import { binaries } from "../shard-worker/rpc-fixtures.js";

export interface LlamaHead {
  readonly url: string;
  readonly child: ChildProcess;
  /** SIGKILL to the whole group; resolves when the process is gone. */
  kill(): Promise<void>;
}

/** Starts `llama-server -m model` and waits until /health answers 200 (model loaded). */
export async function startLlamaHead(
  modelPath: string,
  alias: string,
  timeoutMs = 120_000,
): Promise<LlamaHead> {
  const port = await freeLoopbackPort();
  const child = spawn(
    binaries().llamaServer,
    [
      "-m",
      modelPath,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "-c",
      "1024",
      "-np",
      "2",
      "-t",
      "1",
      "--alias",
      alias,
    ],
    { detached: true, stdio: "ignore" },
  );
  const head: LlamaHead = {
    url: `http://127.0.0.1:${port}`,
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      await exited;
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`llama-server exited with ${child.exitCode}`);
    const ok = await fetch(`${head.url}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return head;
    await new Promise((r) => setTimeout(r, 200));
  }
  await head.kill();
  throw new Error(`llama-server on ${head.url} not healthy within ${timeoutMs} ms`);
}
