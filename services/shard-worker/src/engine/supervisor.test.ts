import { freeLoopbackPort } from "@strata/runtime";
import { describe, expect, it } from "vitest";
import { tcpProbe } from "./probes.js";
import { type EngineEvent, EngineStartError, EngineSupervisor } from "./supervisor.js";

/** A stand-in engine: a real process that listens on a port, as ggml-rpc-server does. */
function listenerScript(port: number): string[] {
  return [
    "-e",
    `require("node:net").createServer().listen(${port}, "127.0.0.1", () => console.log("listening"))`,
  ];
}

const FAST_RESTARTS = { initialBackoffMs: 50, maxBackoffMs: 200, stableAfterMs: 60_000 };

async function until(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("EngineSupervisor", () => {
  it("is ready only when the engine answers, restarts it after a crash, and stops it", async () => {
    const port = await freeLoopbackPort();
    const lines: string[] = [];
    const events: EngineEvent[] = [];
    const supervisor = new EngineSupervisor(
      {
        name: "stage-1 engine",
        command: process.execPath,
        args: listenerScript(port),
        readiness: tcpProbe("127.0.0.1", port),
        readyTimeoutMs: 20_000,
      },
      { log: (l) => lines.push(l), policy: FAST_RESTARTS },
    );
    supervisor.onEvent((e) => events.push(e));
    try {
      await supervisor.start();
      expect(await tcpProbe("127.0.0.1", port)()).toBe(true);
      const first = supervisor.pid;
      await until(() => lines.includes("[stage-1 engine] listening"));

      process.kill(first ?? -1, "SIGKILL");
      await until(() => events.filter((e) => e.type === "ready").length === 2);
      expect(supervisor.pid).not.toBe(first);
      expect(events.map((e) => e.type)).toEqual([
        "started",
        "ready",
        "exited",
        "restarting",
        "started",
        "ready",
      ]);
    } finally {
      await supervisor.stop();
    }
    const last = supervisor.pid ?? -1;
    expect(() => process.kill(last, 0)).toThrow();
    // Nothing is left to bring the engine back after stop.
    expect(supervisor.restartScheduled).toBe(false);
    expect(events.filter((e) => e.type === "started")).toHaveLength(2);
  });

  it("reports an engine that exits during start-up with its last output", async () => {
    const supervisor = new EngineSupervisor(
      {
        name: "bad engine",
        command: process.execPath,
        args: ["-e", 'console.error("error: cannot load model"); process.exit(3)'],
        readiness: async () => false,
        readyTimeoutMs: 20_000,
      },
      { log: () => {}, policy: FAST_RESTARTS },
    );
    const failure = await supervisor.start().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(EngineStartError);
    expect((failure as EngineStartError).message).toMatch(/exited during start-up \(code 3\)/);
    expect((failure as EngineStartError).logTail).toContain("error: cannot load model");
  });
});
