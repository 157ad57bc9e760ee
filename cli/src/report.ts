import { DoesNotFitError, InputError } from "@strata/core";

/**
 * Prints an error the way a user should see it and returns the exit code.
 * Input errors are one line, no stack; anything else is a bug and keeps its stack
 * only when STRATA_DEBUG is set.
 */
export function reportFatal(err: unknown): number {
  if (err instanceof InputError || err instanceof DoesNotFitError) {
    process.stderr.write(`strata: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`strata: ${message}\n`);
  if (process.env.STRATA_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}
