/** Thrown when a polled condition does not hold before its deadline. */
export class PollTimeoutError extends Error {
  override readonly name = "PollTimeoutError";
}

/**
 * Polls `check` until it returns true. Errors thrown by `check` count as "not
 * yet" (the object may not exist yet); the last one is reported on timeout.
 */
export async function pollUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err: unknown) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new PollTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
