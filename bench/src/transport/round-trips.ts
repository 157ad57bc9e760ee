import { headTunnelFigures } from "../head-metrics.js";
import { complete } from "./decode.js";

/** Round trips the head makes to each stage per generated token, counted by the tunnel. */
export interface RoundTripCount {
  /** Per remote stage, in stage order from 1. */
  readonly perTokenByStage: readonly number[];
  /** Bytes per token each way (head to stage, stage to head), per remote stage. */
  readonly bytesPerTokenByStage: readonly { readonly sent: number; readonly received: number }[];
  /** Tokens the count is over (the longer request's less the shorter's). */
  readonly tokens: number;
}

/** Tokens of the shorter of the two counted requests (at most). */
const SHORT_REQUEST_TOKENS = 8;

/**
 * Counts, with the head's tunnel metrics (one observation per request whose
 * reply started: metrics/tunnel-observer.ts), the RPC round trips per decoded
 * token to each stage: a request for `tokens` tokens minus a request for
 * SHORT_REQUEST_TOKENS (at most half of `tokens`) with the same prompt, over
 * the difference in tokens.
 * Both requests start where a like request ended (one warm-up first), so both
 * do the same prompt processing and the same switch from the prompt's graph to
 * the one-token graph (llama.cpp re-reserves buffers on such a switch, a few
 * round trips of its own that a 1-token request does not repeat the same way).
 */
export async function countRoundTrips(
  headUrl: string,
  prompt: string,
  tokens: number,
): Promise<RoundTripCount> {
  // A short --tokens still counts (over fewer tokens); 1 token leaves nothing to count (NaN).
  const shortTokens = Math.max(1, Math.min(SHORT_REQUEST_TOKENS, Math.floor(tokens / 2)));
  await complete(headUrl, prompt, shortTokens);
  const at0 = await headTunnelFigures(headUrl);
  const short = await complete(headUrl, prompt, shortTokens);
  const at1 = await headTunnelFigures(headUrl);
  const long = await complete(headUrl, prompt, tokens);
  const at2 = await headTunnelFigures(headUrl);
  const extraTokens = long.timings.predicted_n - short.timings.predicted_n;
  const stages = [...at2.roundTrips.keys()].sort((a, b) => a - b);
  const perToken = (read: (f: typeof at0) => number) => {
    const few = read(at1) - read(at0);
    const many = read(at2) - read(at1);
    return (many - few) / extraTokens;
  };
  const perTokenByStage = stages.map((stage) => perToken((f) => f.roundTrips.get(stage) ?? 0));
  const bytesPerTokenByStage = stages.map((stage) => ({
    sent: perToken((f) => f.bytesSent.get(stage) ?? 0),
    received: perToken((f) => f.bytesReceived.get(stage) ?? 0),
  }));
  return { perTokenByStage, bytesPerTokenByStage, tokens: extraTokens };
}
