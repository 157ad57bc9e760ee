/**
 * Where local stages keep their ggml-rpc-server tensor caches. A run without
 * a folder of its own choosing gets a private one, `run-<pid>` under the
 * given parent, removed when the run stops; folders of runs whose process is
 * gone (killed before it could clean up) are removed by the next run, so a
 * crash never leaves a second copy of a model's weights on disk for long.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

const RUN_PREFIX = "run-";

/** Folder of stage `stage` under a cache root: each stage writes only its own. */
export function stageRpcCacheDir(root: string, stage: number): string {
  return join(root, `stage-${stage}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates this process's private cache root under `parent`, after removing those of dead runs. */
export async function privateRpcCacheRoot(parent: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  for (const name of await readdir(parent)) {
    const pid = Number(name.slice(RUN_PREFIX.length));
    if (name.startsWith(RUN_PREFIX) && Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
      await rm(join(parent, name), { recursive: true, force: true });
    }
  }
  const root = join(parent, `${RUN_PREFIX}${process.pid}`);
  await mkdir(root, { recursive: true });
  return root;
}
