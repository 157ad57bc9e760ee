import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { privateRpcCacheRoot, stageRpcCacheDir } from "./rpc-cache-dirs.js";

describe("local stage cache folders", () => {
  const parents: string[] = [];
  afterAll(async () => {
    for (const p of parents) await rm(p, { recursive: true, force: true });
  });

  it("gives a run its own folder and removes those of runs whose process is gone", async () => {
    const parent = await mkdtemp(join(tmpdir(), "strata-rpc-cache-dirs-"));
    parents.push(parent);
    // A process that has exited: its pid names a dead run (until the pid is reused).
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    const deadRun = join(parent, `run-${dead}`, "stage-1");
    const liveRun = join(parent, `run-${process.ppid}`, "stage-1");
    const notARun = join(parent, "kept-by-hand");
    for (const dir of [deadRun, liveRun, notARun]) await mkdir(dir, { recursive: true });

    const root = await privateRpcCacheRoot(parent);
    expect(root).toBe(join(parent, `run-${process.pid}`));
    expect(existsSync(join(parent, `run-${dead}`))).toBe(false);
    expect((await readdir(parent)).sort()).toEqual(
      ["kept-by-hand", `run-${process.pid}`, `run-${process.ppid}`].sort(),
    );
    expect(stageRpcCacheDir(root, 2)).toBe(join(root, "stage-2"));
  });
});
