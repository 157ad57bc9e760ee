import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGML_TYPE, type GgmlTypeInfo, type GgufTensorInfo, ggmlTypeInfo } from "@strata/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufFile } from "../model/gguf-file.js";
import { writeTinyLlamaGguf } from "../model/write-model.js";
import { Fnv1a } from "./fnv1a.js";
import {
  GGML_RPC_HASH_THRESHOLD_BYTES,
  prepareRpcCache,
  RPC_CACHE_SUBDIR,
  stageCacheTensors,
} from "./rpc-cache.js";

const MiB = 1024 * 1024;

function tensor(name: string, bytes: number): GgufTensorInfo {
  return { name, dims: [bytes / 4], type: ggmlTypeInfo(GGML_TYPE.F32) as GgmlTypeInfo, offset: 0, bytes };
}

describe("which tensors a stage's cache holds", () => {
  const big = GGML_RPC_HASH_THRESHOLD_BYTES + 4;
  const tensors = [
    tensor("token_embd.weight", big),
    ...[0, 1, 2, 3].flatMap((i) => [
      tensor(`blk.${i}.attn_norm.weight`, 4096),
      tensor(`blk.${i}.ffn_up.weight`, big),
      // exactly the threshold: ggml-rpc sends it as data, not by hash
      tensor(`blk.${i}.attn_q.weight`, GGML_RPC_HASH_THRESHOLD_BYTES),
    ]),
    tensor("output_norm.weight", 4096),
    tensor("output.weight", big),
  ];
  const names = (list: GgufTensorInfo[]) => list.map((t) => t.name);

  it("holds the large weights of its own layers only", () => {
    expect(names(stageCacheTensors(tensors, { first: 1, last: 2 }, false))).toEqual([
      "blk.1.ffn_up.weight",
      "blk.2.ffn_up.weight",
    ]);
  });

  it("adds the output matrix on the last stage, or the embeddings llama.cpp loads in its place when tied", () => {
    expect(names(stageCacheTensors(tensors, { first: 3, last: 3 }, true))).toEqual([
      "blk.3.ffn_up.weight",
      "output.weight",
    ]);
    const tied = tensors.filter((t) => t.name !== "output.weight");
    expect(names(stageCacheTensors(tied, { first: 3, last: 3 }, true))).toEqual([
      "token_embd.weight",
      "blk.3.ffn_up.weight",
    ]);
  });
});

describe("preparing a stage's tensor cache from a model file", () => {
  let dir: string;
  let model: string;
  const layers = { first: 1, last: 2 };
  // f32 ffn matrices of 1024 x 2816: 11 MiB each, above the 10 MiB threshold.
  const shape = { layers: 3, hidden: 1024, heads: 8, kvHeads: 8, ffn: 2816 };
  const log = () => {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-rpc-cache-"));
    model = join(dir, "model.gguf");
    await writeTinyLlamaGguf(model, shape);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** What the cache should hold: each wanted tensor's bytes under its FNV-1a name. */
  async function expectedFiles(path: string): Promise<Map<string, Buffer>> {
    const file = await GgufFile.open(path);
    try {
      const hasher = await Fnv1a.create();
      const out = new Map<string, Buffer>();
      for (const t of stageCacheTensors(file.header.tensors, layers, false)) {
        const bytes = await file.tensorBytes(t);
        hasher.reset();
        hasher.update(bytes);
        out.set(hasher.hex(), bytes);
      }
      return out;
    } finally {
      await file.close();
    }
  }

  /** Same names, byte-identical contents (Buffer.equals: vitest's deep equality is slow on MiBs). */
  function expectSameFiles(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, bytes] of expected) expect(actual.get(name)?.equals(bytes)).toBe(true);
  }

  async function cacheFiles(cacheDir: string): Promise<Map<string, Buffer>> {
    const files = join(cacheDir, RPC_CACHE_SUBDIR);
    const out = new Map<string, Buffer>();
    for (const name of await readdir(files)) out.set(name, await readFile(join(files, name)));
    return out;
  }

  it("writes each large weight of the stage as a file named by its hash, then reuses them", async () => {
    const cacheDir = join(dir, "fresh");
    const first = await prepareRpcCache({ dir: cacheDir, modelPath: model, layers, lastStage: false, log });
    const expected = await expectedFiles(model);
    expect(expected.size).toBe(6); // gate, up, down of layers 1 and 2
    expect(first).toMatchObject({ enabled: true, tensors: 6, writtenTensors: 6, bytes: 6 * 1024 * 2816 * 4 });
    expectSameFiles(await cacheFiles(cacheDir), expected);

    const again = await prepareRpcCache({ dir: cacheDir, modelPath: model, layers, lastStage: false, log });
    expect(again).toMatchObject({ enabled: true, tensors: 6, writtenTensors: 0, writtenBytes: 0 });
    expectSameFiles(await cacheFiles(cacheDir), expected);
  });

  it("replaces the files of a changed model and removes files that are not its own", async () => {
    const cacheDir = join(dir, "changing");
    const changing = join(dir, "changing.gguf");
    await writeTinyLlamaGguf(changing, shape);
    await prepareRpcCache({ dir: cacheDir, modelPath: changing, layers, lastStage: false, log });
    const before = await cacheFiles(cacheDir);
    await writeFile(join(cacheDir, RPC_CACHE_SUBDIR, "0123456789abcdef"), "a stray file");

    await writeTinyLlamaGguf(changing, { ...shape, seed: 7 });
    await utimes(changing, new Date(), new Date(Date.now() + 5000));
    const result = await prepareRpcCache({
      dir: cacheDir,
      modelPath: changing,
      layers,
      lastStage: false,
      log,
    });
    expect(result).toMatchObject({ enabled: true, writtenTensors: 6 });
    const after = await cacheFiles(cacheDir);
    expectSameFiles(after, await expectedFiles(changing));
    for (const name of before.keys()) expect(after.has(name)).toBe(false);
  });

  it("stays off, and empty, when the stage's weights exceed the bound", async () => {
    const cacheDir = join(dir, "bounded");
    await prepareRpcCache({ dir: cacheDir, modelPath: model, layers, lastStage: false, log });
    const result = await prepareRpcCache({
      dir: cacheDir,
      maxBytes: 20 * MiB,
      modelPath: model,
      layers,
      lastStage: false,
      log,
    });
    expect(result.enabled).toBe(false);
    expect(result.enabled === false && result.reason).toMatch(
      /needs 0\.06 GiB, more than its bound of 0\.02 GiB/,
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });
});
