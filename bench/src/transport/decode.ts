import type { ServingSetup } from "./engines.js";

export interface DecodeResult {
  readonly name: string;
  /** Median over the measured runs of llama-server's own decode rate. */
  readonly tokensPerSecond: number;
  readonly runs: readonly number[];
  /** Token ids of the first run, to confirm every setup computes the same thing. */
  readonly tokens: readonly number[];
}

interface CompletionBody {
  tokens: number[];
  timings: { predicted_per_second: number; predicted_n: number };
}

export async function complete(url: string, prompt: string, nPredict: number): Promise<CompletionBody> {
  const response = await fetch(`${url}/completion`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt,
      n_predict: nPredict,
      temperature: 0,
      return_tokens: true,
      cache_prompt: false,
      // Every setup decodes exactly nPredict tokens, even with a real model that would stop.
      ignore_eos: true,
    }),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as CompletionBody;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/**
 * Greedy decode of `tokens` tokens on every setup, in `repeats` rounds after
 * one warm-up each. Within a round the setups take turns, so a burst of load
 * from elsewhere on this shared machine hits them alike. The rate is the one
 * llama-server measures itself (timings.predicted_per_second), so HTTP
 * overhead is not counted; the median over rounds is reported.
 */
export async function measureDecodeInterleaved(
  setups: readonly ServingSetup[],
  options: { prompt: string; tokens: number; repeats: number },
): Promise<DecodeResult[]> {
  for (const setup of setups) await complete(setup.url, options.prompt, 8);
  const runs = setups.map(() => [] as number[]);
  const tokens = setups.map(() => [] as number[]);
  for (let round = 0; round < options.repeats; round++) {
    for (const [i, setup] of setups.entries()) {
      const body = await complete(setup.url, options.prompt, options.tokens);
      if (round === 0) tokens[i] = body.tokens;
      runs[i]?.push(body.timings.predicted_per_second);
    }
  }
  return setups.map((setup, i) => ({
    name: setup.name,
    tokensPerSecond: median(runs[i] ?? []),
    runs: runs[i] ?? [],
    tokens: tokens[i] ?? [],
  }));
}
