import { fileURLToPath } from "node:url";

/**
 * The command that runs one shard worker, as this installation runs it: the
 * same `strata worker` a pod runs, for the local supervisor and benchmarks.
 */
export function workerCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL("./main.js", import.meta.url)), "worker"];
}
