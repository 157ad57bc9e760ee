import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Strata's cache, `~/.cache/strata` unless STRATA_CACHE_DIR says otherwise
 * (the same rule the nats-server install and the test harness follow).
 */
export function strataCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.STRATA_CACHE_DIR ?? join(env.HOME ?? homedir(), ".cache", "strata");
}

/** Where pulled and generated models live. */
export function modelCacheDir(cacheRoot = strataCacheRoot()): string {
  return join(cacheRoot, "models");
}
