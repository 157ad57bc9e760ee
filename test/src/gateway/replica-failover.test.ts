import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningGateway, runGateway } from "@strata/gateway";
import { silentLogger } from "@strata/runtime";
import { writeTinyLlamaGguf } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlamaHead, startLlamaHead } from "./llama-heads.js";

// Two replicas (real llama-server processes) behind the gateway; one is killed
// mid-run. Requests that start after the kill all go to the survivor, and no
// request hangs: each settles well inside its client timeout.

const MODEL = "tiny";
const REQUESTS = 24;
const CONCURRENCY = 3;
const KILL_AFTER = 8;
const CLIENT_TIMEOUT_MS = 60_000;

interface Outcome {
  readonly index: number;
  readonly startedAfterKill: boolean;
  readonly status: number | "error";
  readonly replica: string | null;
  readonly ms: number;
}

describe("gateway with two replicas, one killed mid-run", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-gw-failover-"));
  const heads: LlamaHead[] = [];
  let gateway: RunningGateway;

  beforeAll(async () => {
    const modelPath = join(dir, "tiny.gguf");
    await writeTinyLlamaGguf(modelPath, { layers: 4 });
    heads.push(await startLlamaHead(modelPath, MODEL), await startLlamaHead(modelPath, MODEL));
    gateway = await runGateway({
      port: 0,
      upstreams: heads.map((h, i) => ({ id: `tiny/${i}`, model: MODEL, url: h.url })),
      log: silentLogger,
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    for (const h of heads) await h.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends every request started after the kill to the survivor, and none hangs", async () => {
    const victim = heads[0];
    if (!victim) throw new Error("no heads");
    let killed = false;
    let completed = 0;
    const outcomes: Outcome[] = [];
    let next = 0;

    const one = async (index: number): Promise<void> => {
      const startedAfterKill = killed;
      const t0 = Date.now();
      try {
        const res = await fetch(`${gateway.url}/v1/completions`, {
          method: "POST",
          body: JSON.stringify({
            model: MODEL,
            prompt: `request ${index}`,
            max_tokens: 12,
            temperature: 0,
            stream: true,
          }),
          signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
        });
        await res.text();
        outcomes.push({
          index,
          startedAfterKill,
          status: res.status,
          replica: res.headers.get("x-strata-replica"),
          ms: Date.now() - t0,
        });
      } catch {
        outcomes.push({ index, startedAfterKill, status: "error", replica: null, ms: Date.now() - t0 });
      }
      completed += 1;
      if (completed === KILL_AFTER && !killed) {
        await victim.kill();
        killed = true;
      }
    };
    const worker = async () => {
      while (next < REQUESTS) await one(next++);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(killed).toBe(true);
    expect(outcomes).toHaveLength(REQUESTS);
    const before = outcomes.filter((o) => !o.startedAfterKill);
    const after = outcomes.filter((o) => o.startedAfterKill);
    // Both replicas served before the kill: routing spreads load.
    expect(new Set(before.filter((o) => o.status === 200).map((o) => o.replica))).toEqual(
      new Set(["tiny/0", "tiny/1"]),
    );
    expect(after.length).toBeGreaterThan(0);
    for (const o of after) {
      expect(o.status).toBe(200);
      expect(o.replica).toBe("tiny/1");
    }
    // Nothing hung: every request settled long before the client's timeout.
    for (const o of outcomes) expect(o.ms).toBeLessThan(CLIENT_TIMEOUT_MS / 2);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/strata_gateway_retries_total\{model="tiny",reason="connect"\} [1-9]/);
  });
});
