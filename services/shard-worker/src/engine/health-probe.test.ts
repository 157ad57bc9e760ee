import { describe, expect, it } from "vitest";
import { EngineHealth, type ProcessState, parseProcStat } from "./health-probe.js";

describe("parseProcStat", () => {
  it.each([
    ["1234 (llama-server) S 1 1234 1234 0 -1", "running"],
    ["1234 (rpc) R 1 1", "running"],
    ["1234 (rpc) D 1 1", "running"],
    ["1234 (ggml (rpc) server) T 1 1", "stopped"],
    ["1234 (x) t 1 1", "stopped"],
    ["1234 (x) Z 1 1", "zombie"],
  ])("%s is %s", (stat, state) => {
    expect(parseProcStat(stat)).toBe(state);
  });
});

/** A probe on a fake clock and a fake process table; the canary answers when the test says. */
function fixture(options: { canary?: boolean } = {}) {
  const t = { now: 0, state: "running" as ProcessState, active: true, lastOutput: 0 };
  const pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const health = new EngineHealth({
    pid: () => 42,
    active: () => t.active,
    processIntervalMs: 1000,
    readState: async () => t.state,
    now: () => t.now,
    ...(options.canary
      ? {
          canary: {
            intervalMs: 3000,
            lastOutputAtMs: () => t.lastOutput,
            send: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
          },
        }
      : {}),
  });
  return { t, health, pending };
}

const settle = () => new Promise((r) => setImmediate(r));

describe("EngineHealth", () => {
  it("counts a stopped engine process as one failure per interval, and passes again once it runs", async () => {
    const { t, health } = fixture();
    expect(health.latest()).toBeUndefined();
    await health.checkProcess();
    expect(health.latest()).toEqual({ kind: "process", ok: true, failures: 0, intervalMs: 1000 });
    t.state = "stopped";
    for (let i = 0; i < 3; i++) await health.checkProcess();
    expect(health.latest()).toMatchObject({ kind: "process", ok: false, failures: 3 });
    expect(health.latest()?.detail).toMatch(/stopped \(SIGSTOP\)/);
    t.state = "running";
    await health.checkProcess();
    expect(health.latest()).toMatchObject({ ok: true, failures: 0 });
  });

  it("forgets failures while the engine is down (restarting)", async () => {
    const { t, health } = fixture();
    t.state = "zombie";
    await health.checkProcess();
    expect(health.latest()?.failures).toBe(1);
    t.active = false;
    await health.checkProcess();
    expect(health.latest()).toBeUndefined();
  });

  it("fails the canary once per interval while it is unanswered and nothing streams", async () => {
    const { t, health, pending } = fixture({ canary: true });
    health.tickCanary();
    expect(pending).toHaveLength(1);
    for (let i = 1; i <= 3; i++) {
      t.now = i * 3000;
      health.tickCanary();
    }
    expect(health.latest()).toMatchObject({ kind: "canary", ok: false, failures: 3, intervalMs: 3000 });
    // Only one canary is ever out at a time.
    expect(pending).toHaveLength(1);
    pending[0]?.resolve();
    await settle();
    expect(health.latest()).toMatchObject({ kind: "canary", ok: true, failures: 0 });
  });

  it("does not fail a late canary while the engine streams tokens to clients", () => {
    const { t, health, pending } = fixture({ canary: true });
    health.tickCanary();
    t.now = 2000;
    t.lastOutput = 2000;
    t.now = 3000;
    health.tickCanary();
    expect(health.latest()).toMatchObject({ kind: "canary", ok: true, failures: 0 });
    expect(pending).toHaveLength(1);
  });

  it("counts a canary the engine refused", async () => {
    const { health, pending } = fixture({ canary: true });
    health.tickCanary();
    pending[0]?.reject(new Error("HTTP 500"));
    await settle();
    expect(health.latest()).toMatchObject({
      kind: "canary",
      ok: false,
      failures: 1,
      detail: "canary failed: HTTP 500",
    });
  });
});
