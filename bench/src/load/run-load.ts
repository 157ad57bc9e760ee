import { mkdirSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { InputError } from "@strata/core";
import { svgToPng } from "../capacity/png.js";
import { poissonArrivals, randomPromptTokens, seededRandom } from "./arrivals.js";
import { compareByProbes, type ProbeComparison } from "./probes.js";
import { type LoadRunInfo, loadSvg, loadTable } from "./report.js";
import { summariseTarget, type TargetSummary } from "./stats.js";
import { type RequestSample, streamCompletion } from "./stream-client.js";

export const defaultMaxInFlight = 256;
export const defaultRequestTimeoutMs = 120_000;
export const defaultProbes = 200;

export interface LoadOptions {
  /** OpenAI endpoint under test, e.g. the gateway: http://127.0.0.1:8080. */
  readonly url: string;
  /** The head behind it, measured in the same run for the gateway's added latency. */
  readonly directUrl?: string;
  readonly model?: string;
  readonly ratePerS: number;
  readonly durationS: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly sloTtftMs?: number;
  readonly sloTpotMs?: number;
  readonly seed?: number;
  readonly maxInFlight?: number;
  readonly requestTimeoutMs?: number;
  readonly apiKey?: string;
  /** Directory for load.svg, load.png and load.json. */
  readonly outDir?: string;
  /** With directUrl: idle probe pairs after the load, for the gateway's added latency alone (0: none). */
  readonly probes?: number;
  /** Targets must be on loopback unless this is set. */
  readonly allowRemote?: boolean;
}

export interface LoadResult {
  readonly info: LoadRunInfo;
  readonly targets: readonly TargetSummary[];
  readonly samples: readonly RequestSample[];
  readonly probes: ProbeComparison | undefined;
  readonly table: string;
  readonly files: readonly string[];
}

const loopbackHosts = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

function targetUrl(field: string, raw: string, allowRemote: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(field, `"${raw}" is not a URL`);
  }
  if (url.protocol !== "http:") throw new InputError(field, `"${raw}" must be an http:// URL`);
  if (!allowRemote && !loopbackHosts.test(url.hostname)) {
    throw new InputError(
      field,
      `${url.hostname} is not a loopback address (pass --allow-remote to load a remote server)`,
    );
  }
  return url;
}

async function firstModel(url: URL, apiKey: string | undefined): Promise<string> {
  let res: Response;
  try {
    res = await fetch(new URL("/v1/models", url), {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err: unknown) {
    throw new InputError("--url", `cannot reach ${url.origin}: ${err instanceof Error ? err.message : err}`);
  }
  const body = (await res.json().catch(() => ({}))) as { data?: { id?: unknown }[] };
  const id = body.data?.[0]?.id;
  if (!res.ok || typeof id !== "string")
    throw new InputError("--model", `${url.origin}/v1/models names no model`);
  return id;
}

/**
 * Runs an open-loop load: Poisson arrivals, each a streamed text completion
 * with exactly `inputTokens` prompt token ids and `outputTokens` generated
 * tokens (`ignore_eos`, a llama.cpp extension; other servers may stop early).
 * With `directUrl`, each arrival goes to the gateway or the head by a coin
 * flip, so both see the same load and the difference is the gateway's cost.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const allowRemote = options.allowRemote ?? false;
  const url = targetUrl("--url", options.url, allowRemote);
  const direct = options.directUrl ? targetUrl("--direct-url", options.directUrl, allowRemote) : undefined;
  const seed = options.seed ?? 1;
  const maxInFlight = options.maxInFlight ?? defaultMaxInFlight;
  const timeoutMs = options.requestTimeoutMs ?? defaultRequestTimeoutMs;
  const model = options.model ?? (await firstModel(url, options.apiKey));
  const random = seededRandom(seed);
  const arrivals = poissonArrivals(options.ratePerS, options.durationS * 1000, random);
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const targets: [string, URL][] = direct
    ? [
        ["gateway", url],
        ["direct", direct],
      ]
    : [["endpoint", url]];
  const body = (tokens: number[]) =>
    JSON.stringify({
      model,
      prompt: tokens,
      max_tokens: options.outputTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
      cache_prompt: false,
    });
  const send = (target: [string, URL], scheduledMs: number, runStart: number) =>
    streamCompletion(
      agent,
      {
        target: target[0],
        baseUrl: target[1],
        body: body(randomPromptTokens(options.inputTokens, random)),
        scheduledMs,
        runStart,
        timeoutMs,
        apiKey: options.apiKey,
      },
      "/v1/completions",
    );

  try {
    // Warm-up, not counted: opens connections and loads what the first request would.
    for (const t of targets) await send(t, 0, performance.now());
    const runStart = performance.now();
    const pending: Promise<RequestSample>[] = [];
    let inFlight = 0;
    for (const at of arrivals) {
      const wait = at - (performance.now() - runStart);
      if (wait > 0) await sleep(wait);
      const target = targets.length === 2 && random() < 0.5 ? targets[1] : targets[0];
      if (!target) continue;
      if (inFlight >= maxInFlight) {
        pending.push(Promise.resolve(droppedSample(target[0], at)));
        continue;
      }
      inFlight += 1;
      pending.push(
        send(target, at, runStart).finally(() => {
          inFlight -= 1;
        }),
      );
    }
    const samples = await Promise.all(pending);
    const wallS = (performance.now() - runStart) / 1000;
    const slo = { ttftMs: options.sloTtftMs, tpotMs: options.sloTpotMs };
    const summaries = targets.map(([name]) =>
      summariseTarget(
        name,
        samples.filter((s) => s.target === name),
        wallS,
        slo,
      ),
    );
    const info: LoadRunInfo = {
      model,
      ratePerS: options.ratePerS,
      durationS: options.durationS,
      inputTokens: options.inputTokens,
      outputTokens: options.outputTokens,
      seed,
      slo,
    };
    const probeCount = options.probes ?? defaultProbes;
    const probes =
      direct && probeCount > 0
        ? await compareByProbes(agent, url, direct, model, probeCount, options.apiKey)
        : undefined;
    const table = loadTable(info, summaries, probes);
    const files = options.outDir ? writeOutputs(options.outDir, info, summaries, samples, probes) : [];
    return { info, targets: summaries, samples, probes, table, files };
  } finally {
    agent.destroy();
  }
}

function droppedSample(target: string, at: number): RequestSample {
  return {
    target,
    scheduledMs: at,
    startedMs: at,
    status: 0,
    error: "not sent: client in-flight limit reached",
    ttftMs: undefined,
    itlMs: [],
    tpotMs: undefined,
    totalMs: 0,
    outputTokens: 0,
    inputTokens: undefined,
    gatewayMs: undefined,
  };
}

function writeOutputs(
  dir: string,
  info: LoadRunInfo,
  targets: readonly TargetSummary[],
  samples: readonly RequestSample[],
  probes: ProbeComparison | undefined,
): string[] {
  mkdirSync(dir, { recursive: true });
  const svg = loadSvg(info, targets);
  const files = [join(dir, "load.svg"), join(dir, "load.png"), join(dir, "load.json")];
  writeFileSync(files[0] as string, svg);
  writeFileSync(files[1] as string, svgToPng(svg));
  writeFileSync(files[2] as string, `${JSON.stringify({ info, targets, probes, samples }, null, 1)}\n`);
  return files;
}
