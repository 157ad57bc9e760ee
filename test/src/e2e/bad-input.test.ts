import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "@strata/runtime";
import { convertGgufToHf, writeTinyLlamaGguf } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { installedVllm } from "../shard-worker/vllm-fixtures.js";
import { StrataRun } from "./strata-up.js";

describe("strata up rejects bad input with one line, exit 2 and no process left", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-e2e-bad-"));
  const model = join(dir, "tiny.gguf");
  const truncated = join(dir, "truncated-data.gguf");
  let busy: Server;
  let busyPort: number;

  beforeAll(async () => {
    binaries();
    await writeTinyLlamaGguf(model, { layers: 4 });
    // A valid header whose tensor data is cut short: the header parses, llama.cpp cannot load it.
    const bytes = readFileSync(model);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    busyPort = await freeLoopbackPort();
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(busyPort, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, () => string[], RegExp][] = [
    ["a missing model file", () => ["--model", join(dir, "nope.gguf")], /^strata: --model: .*ENOENT/],
    ["an unreadable model (a directory)", () => ["--model", dir], /^strata: --model: .*EISDIR/],
    [
      "a file that is not GGUF",
      () => ["--model", join(dir, "not.gguf")],
      /^strata: --model: .*not a GGUF file/,
    ],
    [
      "a GGUF llama.cpp cannot load",
      () => ["--model", truncated],
      /^strata: --model: llama\.cpp cannot load/,
    ],
    ["more stages than layers", () => ["--model", model, "--stages", "5"], /^strata: --stages: .*5 stages/],
    [
      "a port in use",
      () => ["--model", model, "--port", String(busyPort)],
      /^strata: --port: .*not available/,
    ],
    [
      "a cache folder with the cache turned off",
      () => ["--model", model, "--no-rpc-cache", "--rpc-cache-dir", dir],
      /^strata: --rpc-cache-dir: cannot be used with --no-rpc-cache$/,
    ],
  ];

  it.each(cases)(
    "%s",
    async (_name, args, message) => {
      writeFileSync(join(dir, "not.gguf"), "just text\n".repeat(100));
      await expectRejected(["up", "--stages", "2", ...args()], message);
    },
    240_000,
  );
});

describe("strata up --engine vllm rejects bad input with one line, exit 2 and no process left", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-e2e-bad-vllm-"));
  const noConfig = join(dir, "no-config");
  const hf = join(dir, "tiny-hf");
  const emptyCache = join(dir, "empty-cache");

  beforeAll(async () => {
    installedVllm();
    mkdirSync(noConfig);
    mkdirSync(emptyCache);
    const gguf = join(dir, "tiny.gguf");
    // 8 query heads and 4 KV heads: tp 3 divides neither.
    await writeTinyLlamaGguf(gguf, { layers: 2, heads: 8, kvHeads: 4 });
    await convertGgufToHf(gguf, hf, { log: () => {} });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, () => string[], NodeJS.ProcessEnv, RegExp][] = [
    [
      "a model folder without config.json",
      () => ["--model", noConfig],
      {},
      /^strata: --model: .*no-config has no config\.json/,
    ],
    [
      "a tp that does not divide the heads",
      () => ["--model", hf, "--tp", "3"],
      {},
      /^strata: --tp: 3 does not divide tiny-hf's 8 query heads and 4 KV heads$/,
    ],
    [
      "vLLM not installed",
      () => ["--model", hf],
      { STRATA_CACHE_DIR: emptyCache },
      /^strata: --engine: vLLM is not installed in .*empty-cache.*strata setup --engine vllm/,
    ],
  ];

  it.each(cases)(
    "%s",
    async (_name, args, env, message) => {
      await expectRejected(["up", "--engine", "vllm", "--stages", "2", ...args()], message, env);
    },
    240_000,
  );
});

/** The run exits 2 with `message` as its one error line, the last, without a stack trace or a process left. */
async function expectRejected(args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const extra = args.includes("--port") ? [] : ["--port", String(await freeLoopbackPort())];
  const run = new StrataRun([...args, ...extra], env);
  try {
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    // Progress lines may come first; the error itself is one line, the last.
    const lines = run.stderr.trim().split("\n");
    const last = lines.at(-1) ?? "";
    expect(last).toMatch(message);
    expect(lines.filter((l) => /^strata: --[\w-]+: /.test(l))).toEqual([last]);
    expect(run.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(run.leftovers()).toEqual([]);
  } finally {
    run.forceCleanup();
  }
}
