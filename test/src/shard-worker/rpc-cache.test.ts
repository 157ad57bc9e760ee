import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningCluster, startLocalCluster } from "@strata/controller";
import type { LayerRange } from "@strata/core";
import { GgufFile, llamaCppBinaryPaths, writeTinyLlamaGguf } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completeGreedy } from "../e2e/strata-up.js";
import { STRATA_WORKER_COMMAND } from "../strata-bin.js";
import { binaries } from "./rpc-fixtures.js";

/** ggml-rpc's HASH_THRESHOLD (ggml/src/ggml-rpc/ggml-rpc.cpp): larger weights may go by hash. */
const HASH_THRESHOLD_BYTES = 10 * 1024 * 1024;
const PROMPTS = ["The quick brown fox", "0123456789"];
const TOKENS = 16;

/** Bytes the head sent into the tunnel of `stage`, from its Prometheus counter. */
async function tunnelBytesSent(headUrl: string, stage: number): Promise<number> {
  const text = await (await fetch(`${headUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find(
      (l) =>
        l.startsWith("strata_tunnel_bytes_total{") &&
        l.includes(`stage="${stage}"`) &&
        l.includes('direction="sent"'),
    );
  if (!line) throw new Error(`no strata_tunnel_bytes_total for stage ${stage} in the head's metrics`);
  return Number(line.split(" ").at(-1));
}

interface LoadOutcome {
  readonly sentToStage1: number;
  readonly tokens: number[][];
  readonly stageReport: unknown;
}

describe("stage tensor caches (real llama.cpp, 2 stages over the gRPC tunnel)", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-rpc-cache-e2e-"));
  const model = join(dir, "wide.gguf");
  // f32 ffn matrices of 1024 x 2816 (11 MiB each) are above the threshold; the rest is below.
  const shape = { layers: 2, hidden: 1024, heads: 8, kvHeads: 8, ffn: 2816 };
  const stageLayers: LayerRange[] = [
    { first: 0, last: 0 },
    { first: 1, last: 1 },
  ];
  let largeOnStage1: number[];
  let smallOnStage1 = 0;

  beforeAll(async () => {
    binaries();
    await writeTinyLlamaGguf(model, shape);
    const file = await GgufFile.open(model);
    const onStage1 = file.header.tensors.filter(
      (t) => t.name.startsWith("blk.1.") || t.name.startsWith("output"),
    );
    largeOnStage1 = onStage1.filter((t) => t.bytes > HASH_THRESHOLD_BYTES).map((t) => t.bytes);
    smallOnStage1 = onStage1.filter((t) => t.bytes <= HASH_THRESHOLD_BYTES).reduce((a, t) => a + t.bytes, 0);
    await file.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function load(cacheDir: string | undefined): Promise<LoadOutcome> {
    let cluster: RunningCluster | undefined;
    try {
      cluster = await startLocalCluster({
        workerCommand: STRATA_WORKER_COMMAND,
        deployment: "cache-test",
        engine: "llamacpp",
        modelPath: model,
        servedName: "wide",
        stageLayers,
        maxModelLength: 512,
        engineHome: llamaCppBinaryPaths().binDir,
        log: () => {},
        progress: () => {},
        ...(cacheDir === undefined ? {} : { rpcCache: { where: { dir: cacheDir } } }),
      });
      // Read right after the load, before any request adds activations.
      const sentToStage1 = await tunnelBytesSent(cluster.headUrl, 1);
      const tokens: number[][] = [];
      for (const prompt of PROMPTS)
        tokens.push([...(await completeGreedy(cluster.headUrl, prompt, TOKENS)).tokens]);
      const stage1 = cluster.workers.find((w) => w.stage === 1);
      const report = (await (await fetch(`http://127.0.0.1:${stage1?.httpPort}/readyz`)).json()) as {
        rpcCache?: unknown;
      };
      return { sentToStage1, tokens, stageReport: report.rpcCache };
    } finally {
      await cluster?.stop();
    }
  }

  it("loads the large weights from the stage's cache: none of their bytes cross the tunnel, and the tokens are the same", async () => {
    expect(largeOnStage1).toHaveLength(3); // ffn gate, up, down of layer 1
    const largeBytes = largeOnStage1.reduce((a, b) => a + b, 0);
    const cacheDir = join(dir, "cache");

    const plain = await load(undefined);
    const cached = await load(cacheDir);
    process.stderr.write(
      `tunnel bytes to stage 1 during the load: ${plain.sentToStage1} without a cache, ${cached.sentToStage1} with one ` +
        `(large tensors ${largeBytes}, small tensors ${smallOnStage1})\n`,
    );

    // Without a cache every weight of stage 1 crosses the tunnel.
    expect(plain.sentToStage1).toBeGreaterThan(largeBytes);
    expect(plain.stageReport).toBeUndefined();
    // With one, the stage filled it from the model before the head loaded...
    expect(cached.stageReport).toMatchObject({ enabled: true, tensors: 3, bytes: largeBytes });
    expect(readdirSync(join(cacheDir, "stage-1", "rpc"))).toHaveLength(3);
    // ...and what still crossed is the small tensors (sent as data at any size) and the
    // protocol: exactly the large tensors' bytes fewer than before, give or take the hash messages.
    const overhead = 256 * 1024;
    expect(cached.sentToStage1).toBeGreaterThanOrEqual(smallOnStage1);
    expect(cached.sentToStage1).toBeLessThan(smallOnStage1 + overhead);
    expect(Math.abs(plain.sentToStage1 - largeBytes - cached.sentToStage1)).toBeLessThan(overhead);
    expect(cached.tokens).toEqual(plain.tokens);
    expect(cached.tokens.every((t) => t.length === TOKENS)).toBe(true);
  });
});
