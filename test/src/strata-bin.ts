import { fileURLToPath } from "node:url";

/** The built `strata` command, run as a user runs it. */
export const STRATA_BIN = fileURLToPath(new URL("../../cli/bin/strata.js", import.meta.url));
