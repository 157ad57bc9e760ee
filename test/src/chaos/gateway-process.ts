import { type ChildProcess, spawn } from "node:child_process";
import { freeLoopbackPort } from "@strata/runtime";
import { waitFor } from "../e2e/processes.js";
import { STRATA_BIN } from "../strata-bin.js";

/** `strata gateway` as a process, as the chart runs it. */
export interface GatewayProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly pid: number;
  alive(): boolean;
  output(): string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startGatewayProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<GatewayProcess> {
  const port = await freeLoopbackPort();
  const child = spawn(
    process.execPath,
    [STRATA_BIN, "gateway", "--host", "127.0.0.1", "--port", String(port), ...args],
    { env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out = `${out}${d.toString()}`.slice(-200_000);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "the gateway to listen",
    () => {
      if (child.exitCode !== null) throw new Error(`strata gateway exited ${child.exitCode}: ${out}`);
      return out.includes("gateway listening on") ? true : undefined;
    },
    60_000,
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    child,
    pid: child.pid ?? -1,
    alive,
    output: () => out,
    metrics: async () => await (await fetch(`${url}/metrics`)).text(),
    async stop() {
      if (!alive()) return;
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-(child.pid ?? 0), "SIGTERM");
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid ?? 0), "SIGKILL");
        } catch {}
      }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
