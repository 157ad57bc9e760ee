/**
 * A stage's ggml-rpc-server tensor cache, filled from the stage's own copy of
 * the model before the head loads, so that the head's weight uploads become
 * hash checks instead of transfers through the tunnel.
 *
 * How llama.cpp uses the cache (ggml/src/ggml-rpc/ggml-rpc.cpp, tools/rpc/rpc-server.cpp):
 * - the client (the head's llama-server) sends RPC_CMD_SET_TENSOR_HASH instead
 *   of the data for a weight tensor larger than HASH_THRESHOLD (10 MiB);
 *   the hash is 64-bit FNV-1a of the tensor's bytes, i.e. its bytes in the GGUF;
 * - `ggml-rpc-server --cache` looks the hash up as the file
 *   `$LLAMA_CACHE/rpc/<16 hex digits>` and loads it when present; when absent,
 *   the client sends the data with a flag and the server saves it there.
 *
 * The cache is a second copy of the stage's large weights on disk, keyed by a
 * non-cryptographic hash, so: one directory per stage that only that stage
 * writes; files written atomically (a crash never leaves a truncated file
 * under a valid name); a manifest naming the model and the files that belong
 * to it, so a changed model or a stray file is cleaned away at start; and a
 * size bound (the configured maximum, and the volume's free space), above
 * which the stage runs without a cache rather than over its budget.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatLayerRange, type GgufTensorInfo, type LayerRange } from "@strata/core";
import { GgufFile } from "../model/gguf-file.js";
import { FNV1A_CHUNK_BYTES, Fnv1a } from "./fnv1a.js";

/** ggml-rpc's HASH_THRESHOLD: weight tensors strictly larger than this are sent by hash. */
export const GGML_RPC_HASH_THRESHOLD_BYTES = 10 * 1024 * 1024;
/** rpc-server keeps its files in this folder under $LLAMA_CACHE. */
export const RPC_CACHE_SUBDIR = "rpc";
export const RPC_CACHE_MANIFEST_FILE = "strata-rpc-cache.json";
/** Space left free on the cache's volume, whatever the configured bound. */
export const RPC_CACHE_FREE_SPACE_RESERVE_BYTES = 1024 * 1024 * 1024;
const MANIFEST_VERSION = 1;
const TEMP_SUFFIX = ".partial";

export interface RpcCacheOptions {
  /** The stage's own folder ($LLAMA_CACHE for its rpc-server). */
  readonly dir: string;
  /** Upper bound on the cache's size; the volume's free space bounds it too. */
  readonly maxBytes?: number;
  readonly modelPath: string;
  /** The stage's layers. */
  readonly layers: LayerRange;
  /** The last stage also holds the output layer. */
  readonly lastStage: boolean;
  readonly log: (line: string) => void;
}

export type RpcCacheResult =
  | {
      readonly enabled: true;
      /** Tensors the cache holds, and their bytes (the disk cost). */
      readonly tensors: number;
      readonly bytes: number;
      /** Of those, written in this start (the rest were already there). */
      readonly writtenTensors: number;
      readonly writtenBytes: number;
      readonly seconds: number;
    }
  | { readonly enabled: false; readonly reason: string };

interface ManifestEntry {
  readonly name: string;
  readonly hash: string;
  readonly bytes: number;
}

interface Manifest {
  readonly version: number;
  readonly model: { readonly path: string; readonly size: number; readonly mtimeMs: number };
  readonly layers: string;
  readonly lastStage: boolean;
  readonly entries: readonly ManifestEntry[];
}

/**
 * The tensors a stage's rpc-server receives by hash: its layers' weights
 * above the threshold, and on the last stage the output layer's (with tied
 * embeddings llama.cpp loads `token_embd` there as the output matrix).
 */
export function stageCacheTensors(
  tensors: readonly GgufTensorInfo[],
  layers: LayerRange,
  lastStage: boolean,
): GgufTensorInfo[] {
  const hasOutput = tensors.some((t) => t.name === "output.weight");
  const onStage = (name: string): boolean => {
    const block = /^blk\.(\d+)\./.exec(name);
    if (block) {
      const layer = Number(block[1]);
      return layer >= layers.first && layer <= layers.last;
    }
    if (!lastStage) return false;
    return name.startsWith("output") || (!hasOutput && name === "token_embd.weight");
  };
  return tensors.filter((t) => t.bytes > GGML_RPC_HASH_THRESHOLD_BYTES && onStage(t.name));
}

/**
 * Makes `dir` hold exactly the stage's cache files for this model: reuses
 * what a previous start left for the same model, hashes and writes the rest,
 * removes everything else. Runs before the stage's rpc-server starts.
 * @throws the fs error when the model cannot be read or the folder written
 */
export async function prepareRpcCache(options: RpcCacheOptions): Promise<RpcCacheResult> {
  const started = performance.now();
  const files = join(options.dir, RPC_CACHE_SUBDIR);
  await mkdir(files, { recursive: true });
  const model = await GgufFile.open(options.modelPath);
  try {
    const modelStat = await stat(options.modelPath);
    const wanted = stageCacheTensors(model.header.tensors, options.layers, options.lastStage);
    const identity = {
      model: { path: options.modelPath, size: modelStat.size, mtimeMs: modelStat.mtimeMs },
      layers: formatLayerRange(options.layers),
      lastStage: options.lastStage,
    };
    const bytes = wanted.reduce((sum, t) => sum + t.bytes, 0);
    const previous = await readManifest(options.dir);
    const known = sameIdentity(previous, identity)
      ? new Map(previous.entries.map((e) => [e.name, e]))
      : new Map<string, ManifestEntry>();
    const present = await presentFiles(files);

    // Case 1: over the configured bound: no cache at all (rpc-server would fill it anyway).
    if (options.maxBytes !== undefined && bytes > options.maxBytes) {
      await clear(options.dir);
      return disabled(options, `needs ${gib(bytes)}, more than its bound of ${gib(options.maxBytes)}`);
    }
    // Case 2: what is missing does not fit the volume's free space (less a reserve).
    const reusable = wanted.filter((t) => {
      const entry = known.get(t.name);
      return entry !== undefined && present.get(entry.hash) === entry.bytes;
    });
    const missingBytes = bytes - reusable.reduce((sum, t) => sum + t.bytes, 0);
    const keptHashes = new Set(reusable.map((t) => known.get(t.name)?.hash));
    await removeExcept(files, present, keptHashes);
    const free = await freeBytes(files);
    if (missingBytes > free - RPC_CACHE_FREE_SPACE_RESERVE_BYTES) {
      await clear(options.dir);
      return disabled(options, `needs ${gib(missingBytes)} more, the volume has ${gib(free)} free`);
    }
    // Case 3: write what is missing, hashing it on the way.
    const entries: ManifestEntry[] = [];
    const hasher = await Fnv1a.create();
    let writtenTensors = 0;
    for (const tensor of wanted) {
      const entry = known.get(tensor.name);
      if (entry && keptHashes.has(entry.hash)) {
        entries.push(entry);
        continue;
      }
      const hash = await copyHashed(model, tensor, files, hasher);
      entries.push({ name: tensor.name, hash, bytes: tensor.bytes });
      writtenTensors++;
    }
    // Two tensors with the same bytes share one file; a hash seen with two sizes cannot be trusted.
    const sizes = new Map<string, number>();
    for (const e of entries) {
      if ((sizes.get(e.hash) ?? e.bytes) !== e.bytes) {
        await clear(options.dir);
        return disabled(options, `two tensors of different sizes hash to ${e.hash}`);
      }
      sizes.set(e.hash, e.bytes);
    }
    await writeManifest(options.dir, { version: MANIFEST_VERSION, ...identity, entries });
    const writtenBytes = bytes - reusable.reduce((sum, t) => sum + t.bytes, 0);
    const seconds = (performance.now() - started) / 1000;
    options.log(
      `[rpc-cache] layers ${identity.layers}: ${wanted.length} tensors, ${gib(bytes)} on disk ` +
        `(${writtenTensors} written, ${gib(writtenBytes)}; ${wanted.length - writtenTensors} reused) in ${seconds.toFixed(1)} s`,
    );
    return { enabled: true, tensors: wanted.length, bytes, writtenTensors, writtenBytes, seconds };
  } finally {
    await model.close();
  }
}

function disabled(options: RpcCacheOptions, why: string): RpcCacheResult {
  const reason = `the stage's tensor cache ${why}; the head sends these weights through the tunnel`;
  options.log(`[rpc-cache] ${reason}`);
  return { enabled: false, reason };
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Reads the tensor from the model into a temporary file while hashing it, then names the file by its hash. */
async function copyHashed(
  model: GgufFile,
  tensor: GgufTensorInfo,
  files: string,
  hasher: Fnv1a,
): Promise<string> {
  const temp = join(files, `${randomBytes(8).toString("hex")}${TEMP_SUFFIX}`);
  const out = await open(temp, "w");
  try {
    hasher.reset();
    const start = model.header.dataOffset + tensor.offset;
    for (let done = 0; done < tensor.bytes; ) {
      const length = Math.min(FNV1A_CHUNK_BYTES, tensor.bytes - done);
      const read = await model.readInto(hasher.chunk, length, start + done);
      hasher.updateFromChunk(read);
      await out.write(hasher.chunk, 0, read);
      done += read;
    }
    await out.sync();
  } catch (err: unknown) {
    await out.close();
    await rm(temp, { force: true });
    throw err;
  }
  await out.close();
  const hash = hasher.hex();
  await rename(temp, join(files, hash));
  return hash;
}

/** The cache's files by name with their sizes; partial files from an interrupted start are removed. */
async function presentFiles(files: string): Promise<Map<string, number>> {
  const present = new Map<string, number>();
  for (const name of await readdir(files)) {
    const path = join(files, name);
    if (name.endsWith(TEMP_SUFFIX)) {
      await rm(path, { force: true });
      continue;
    }
    const s = await stat(path);
    if (s.isFile()) present.set(name, s.size);
  }
  return present;
}

async function removeExcept(files: string, present: Map<string, number>, keep: ReadonlySet<unknown>) {
  for (const name of present.keys()) {
    if (!keep.has(name)) await rm(join(files, name), { recursive: true, force: true });
  }
}

async function clear(dir: string): Promise<void> {
  await rm(join(dir, RPC_CACHE_SUBDIR), { recursive: true, force: true });
  await rm(join(dir, RPC_CACHE_MANIFEST_FILE), { force: true });
}

async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, RPC_CACHE_MANIFEST_FILE), "utf8")) as Manifest;
    return parsed.version === MANIFEST_VERSION && Array.isArray(parsed.entries) ? parsed : undefined;
  } catch {
    return undefined; // absent or unreadable: start afresh
  }
}

function sameIdentity(
  manifest: Manifest | undefined,
  identity: Pick<Manifest, "model" | "layers" | "lastStage">,
): manifest is Manifest {
  return (
    manifest !== undefined &&
    manifest.model.path === identity.model.path &&
    manifest.model.size === identity.model.size &&
    manifest.model.mtimeMs === identity.model.mtimeMs &&
    manifest.layers === identity.layers &&
    manifest.lastStage === identity.lastStage
  );
}

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const path = join(dir, RPC_CACHE_MANIFEST_FILE);
  const temp = `${path}${TEMP_SUFFIX}`;
  await writeFile(temp, `${JSON.stringify(manifest, null, 1)}\n`);
  await rename(temp, path);
}
