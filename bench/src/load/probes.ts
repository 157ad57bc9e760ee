import { type Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { percentile } from "./stats.js";

/** Gateway minus head, from probes sent alternately to each with nothing else in flight. */
export interface ProbeComparison {
  readonly probes: number;
  readonly gatewayMs: { readonly 50: number; readonly 99: number };
  readonly directMs: { readonly 50: number; readonly 99: number };
  readonly addedMs: { readonly 50: number; readonly 99: number };
  /** Median of (gateway − head) over adjacent pairs: less sensitive to engine jitter than a difference of medians. */
  readonly pairedMedianMs: number;
}

function timeOne(agent: Agent, base: URL, body: string, apiKey: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: "POST",
        path: "/v1/completions",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(performance.now() - t0)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error("probe timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * The gateway's added latency in isolation: `count` pairs of the cheapest
 * completion (one cached prompt token in, one token out), gateway then head,
 * one at a time. Engine time is the same on both sides, so the difference of
 * the distributions is the gateway's hop.
 */
export async function compareByProbes(
  agent: Agent,
  gateway: URL,
  direct: URL,
  model: string,
  count: number,
  apiKey: string | undefined,
): Promise<ProbeComparison> {
  const body = JSON.stringify({ model, prompt: [65], max_tokens: 1, temperature: 0, cache_prompt: true });
  const g: number[] = [];
  const d: number[] = [];
  for (let i = 0; i < 10; i++) {
    await timeOne(agent, gateway, body, apiKey);
    await timeOne(agent, direct, body, undefined);
  }
  for (let i = 0; i < count; i++) {
    // Alternate the order so neither side always follows the other.
    if (i % 2 === 0) {
      g.push(await timeOne(agent, gateway, body, apiKey));
      d.push(await timeOne(agent, direct, body, undefined));
    } else {
      d.push(await timeOne(agent, direct, body, undefined));
      g.push(await timeOne(agent, gateway, body, apiKey));
    }
  }
  const gp = { 50: percentile(g, 50), 99: percentile(g, 99) };
  const dp = { 50: percentile(d, 50), 99: percentile(d, 99) };
  const paired = g.map((x, i) => x - (d[i] ?? x));
  return {
    pairedMedianMs: percentile(paired, 50),
    probes: count,
    gatewayMs: gp,
    directMs: dp,
    addedMs: { 50: gp[50] - dp[50], 99: gp[99] - dp[99] },
  };
}
