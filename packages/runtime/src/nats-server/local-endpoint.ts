/**
 * How `strata status` finds the NATS server of a `strata up` running on this
 * machine: `strata up` writes {natsUrl, pid} to a small file and removes it on
 * exit; a file whose pid is gone is stale and ignored.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export function localEndpointFile(env: NodeJS.ProcessEnv = process.env): string {
  const stateRoot =
    env.STRATA_STATE_DIR ??
    join(env.XDG_STATE_HOME ?? join(env.HOME ?? homedir(), ".local", "state"), "strata");
  return join(stateRoot, "local-nats.json");
}

export interface LocalEndpoint {
  readonly natsUrl: string;
  readonly pid: number;
}

export async function writeLocalEndpoint(endpoint: LocalEndpoint, env?: NodeJS.ProcessEnv): Promise<string> {
  const file = localEndpointFile(env);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(endpoint)}\n`);
  return file;
}

/** Removes the file only when it is still ours (another `strata up` may have replaced it). */
export async function removeLocalEndpoint(pid: number, env?: NodeJS.ProcessEnv): Promise<void> {
  const current = await readLocalEndpoint(env);
  if (current?.pid === pid) await rm(localEndpointFile(env), { force: true });
}

export async function readLocalEndpoint(env?: NodeJS.ProcessEnv): Promise<LocalEndpoint | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(localEndpointFile(env), "utf8"));
  } catch {
    return undefined;
  }
  const e = parsed as Partial<LocalEndpoint>;
  if (typeof e.natsUrl !== "string" || typeof e.pid !== "number") return undefined;
  try {
    process.kill(e.pid, 0);
  } catch {
    return undefined;
  }
  return { natsUrl: e.natsUrl, pid: e.pid };
}
