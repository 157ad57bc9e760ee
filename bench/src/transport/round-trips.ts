import { headTunnelFigures } from "../head-metrics.js";
import { complete } from "./decode.js";

/** Round trips the head makes to each stage per generated token, counted by the tunnel. */
export interface RoundTripCount {
  /** Per remote stage, in stage order from 1. */
  readonly perTokenByStage: readonly number[];
  /** Bytes per token each way (head to stage, stage to head), per remote stage. */
  readonly bytesPerTokenByStage: readonly { readonly sent: number; readonly received: number }[];
  readonly tokens: number;
}

/**
 * Counts, with the head's tunnel metrics (one observation per request whose
 * reply started: metrics/tunnel-observer.ts), the RPC round trips per decoded
 * token to each stage: a request for `tokens` tokens minus a request for 1
 * with the same prompt (the same prompt processing), over `tokens - 1`.
 */
export async function countRoundTrips(
  headUrl: string,
  prompt: string,
  tokens: number,
): Promise<RoundTripCount> {
  const at0 = await headTunnelFigures(headUrl);
  await complete(headUrl, prompt, 1);
  const at1 = await headTunnelFigures(headUrl);
  const body = await complete(headUrl, prompt, tokens);
  const at2 = await headTunnelFigures(headUrl);
  const generated = body.timings.predicted_n;
  const stages = [...at2.roundTrips.keys()].sort((a, b) => a - b);
  const perToken = (read: (f: typeof at0) => number) => {
    const one = read(at1) - read(at0);
    const many = read(at2) - read(at1);
    return (many - one) / (generated - 1);
  };
  const perTokenByStage = stages.map((stage) => perToken((f) => f.roundTrips.get(stage) ?? 0));
  const bytesPerTokenByStage = stages.map((stage) => ({
    sent: perToken((f) => f.bytesSent.get(stage) ?? 0),
    received: perToken((f) => f.bytesReceived.get(stage) ?? 0),
  }));
  return { perTokenByStage, bytesPerTokenByStage, tokens: generated };
}
