import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "@strata/runtime";
import { writeTinyLlamaGguf } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { commandName, descendants, isAlive, waitFor } from "./processes.js";
import { completeGreedy, StrataRun, streamGreedy } from "./strata-up.js";

/** Generous: after a stage crash the head reloads the model through the tunnel on a busy 2-core machine. */
const RECOVERY_TIMEOUT_MS = 240_000;

describe("a stage engine killed mid-run", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-e2e-recovery-"));
  const model = join(dir, "tiny.gguf");

  beforeAll(async () => {
    binaries();
    await writeTinyLlamaGguf(model, { layers: 6 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is restarted by its worker; the in-flight request ends (never hangs) and the head serves again", async () => {
    const run = new StrataRun([
      "up",
      "--model",
      model,
      "--stages",
      "3",
      "--port",
      String(await freeLoopbackPort()),
    ]);
    try {
      const url = await run.endpoint();
      const prompt = "recover from a crash";
      const before = await completeGreedy(url, prompt, 16);

      const worker1Pid = Number(/stage 1 ready: .*\(worker pid (\d+)\)/.exec(run.stderr)?.[1]);
      const stage1Pid = descendants(worker1Pid).find((pid) => commandName(pid) === "ggml-rpc-server") ?? -1;
      expect(commandName(stage1Pid)).toBe("ggml-rpc-server");

      // A long generation in flight (its first token has arrived) while the stage dies:
      // it ends with an error, it does not hang and it cannot have completed.
      const inFlight = streamGreedy(url, prompt, 1500);
      await inFlight.firstToken;
      process.kill(stage1Pid, "SIGKILL");
      expect(await inFlight.outcome).toBe("failed");

      // The worker starts a new rpc-server for stage 1.
      await waitFor(
        "a new ggml-rpc-server",
        () => {
          const servers = descendants(run.pid).filter((pid) => commandName(pid) === "ggml-rpc-server");
          return servers.length === 2 && !servers.includes(stage1Pid) ? servers : undefined;
        },
        RECOVERY_TIMEOUT_MS,
      );
      expect(isAlive(stage1Pid)).toBe(false);

      // The head recovers: requests succeed again, with the same tokens as before the crash.
      const after = await waitFor(
        "the head to serve again",
        async () => {
          try {
            return await completeGreedy(url, prompt, 16);
          } catch {
            return undefined;
          }
        },
        RECOVERY_TIMEOUT_MS,
      );
      expect(after.tokens).toEqual(before.tokens);

      run.child.kill("SIGTERM");
      expect((await run.exited).code).toBe(0);
      expect(run.leftovers()).toEqual([]);
    } finally {
      run.forceCleanup();
    }
  }, 480_000);
});
