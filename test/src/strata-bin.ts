import { fileURLToPath } from "node:url";

/** The built `strata` command, run as a user runs it. */
export const STRATA_BIN = fileURLToPath(new URL("../../cli/bin/strata.js", import.meta.url));

/** `strata worker`, as the local supervisor starts it. */
export const STRATA_WORKER_COMMAND: readonly string[] = [process.execPath, STRATA_BIN, "worker"];
