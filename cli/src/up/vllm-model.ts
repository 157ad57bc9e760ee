/**
 * What `strata up --engine vllm` checks before it starts anything: vLLM is
 * installed, the model is a Hugging Face folder (by default SmolLM2-135M,
 * converted once from its GGUF into the cache), and the tensor-parallel degree
 * divides its heads. Each problem is one InputError naming the flag.
 */
import { existsSync } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { InputError, type ModelSpec, modelSpecFromHfConfig } from "@strata/core";
import {
  convertGgufToHf,
  modelCacheDir,
  pullModel,
  vllmInstalled,
  vllmInstallPaths,
} from "@strata/shard-worker";

/** The model `strata up --engine vllm` serves without --model. */
export const DEFAULT_VLLM_MODEL = "smollm2-135m";

export interface VllmUpModel {
  /** The Hugging Face folder every node loads. */
  readonly path: string;
  readonly spec: ModelSpec;
  /** The folder's name: `smollm2-135m` for the default. */
  readonly shortName: string;
}

/**
 * The installed vLLM's virtual environment.
 * @throws InputError("--engine") when `strata setup --engine vllm` has not run
 */
export function installedVllmHome(): string {
  if (!vllmInstalled()) {
    throw new InputError(
      "--engine",
      `vLLM is not installed in ${vllmInstallPaths().venv}: run \`strata setup --engine vllm\` first`,
    );
  }
  return vllmInstallPaths().venv;
}

/**
 * The converted default model, made once: SmolLM2 pulled as GGUF and
 * converted into ~/.cache/strata/models/smollm2-135m (a temporary folder
 * renamed into place, so concurrent runs never see half a model).
 */
export async function defaultVllmModel(progress: (line: string) => void): Promise<string> {
  const dir = join(modelCacheDir(), DEFAULT_VLLM_MODEL);
  if (existsSync(join(dir, "config.json"))) return dir;
  const pulled = await pullModel(DEFAULT_VLLM_MODEL, { log: progress });
  progress(`no --model given: converting ${pulled.path} into a Hugging Face folder for vLLM (${dir})`);
  const partial = `${dir}.partial-${process.pid}`;
  try {
    await convertGgufToHf(pulled.path, partial, { log: () => {} });
    if (!existsSync(join(dir, "config.json"))) {
      await rm(dir, { recursive: true, force: true });
      await rename(partial, dir);
    }
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Reads `--model` as a Hugging Face folder.
 * @throws InputError("--model") for a missing path, a file, or a folder without a readable config.json
 */
export async function readVllmModel(path: string): Promise<VllmUpModel> {
  const dir = resolve(path);
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new InputError("--model", `${dir} does not exist`);
  if (!info.isDirectory()) {
    const hint =
      extname(dir).toLowerCase() === ".gguf"
        ? ` (convert it first: strata model convert --to hf ${path} OUT/)`
        : "";
    throw new InputError("--model", `${dir} is a file; vLLM serves a Hugging Face model folder${hint}`);
  }
  const configPath = join(dir, "config.json");
  const text = await readFile(configPath, "utf8").catch(() => undefined);
  if (text === undefined) {
    throw new InputError("--model", `${dir} has no config.json (vLLM serves a Hugging Face model folder)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err: unknown) {
    throw new InputError("--model", `${configPath} is not valid JSON`, { cause: err });
  }
  try {
    return {
      path: dir,
      spec: modelSpecFromHfConfig(json, { name: basename(dir), source: configPath }),
      shortName: basename(dir),
    };
  } catch (err: unknown) {
    if (err instanceof InputError) throw new InputError("--model", err.message, { cause: err });
    throw err;
  }
}

/**
 * @throws InputError("--tp") when tp does not divide the query and KV heads (vLLM requires both)
 */
export function checkTensorParallel(spec: ModelSpec, tp: number): void {
  if (spec.numHeads % tp !== 0 || spec.numKvHeads % tp !== 0) {
    throw new InputError(
      "--tp",
      `${tp} does not divide ${spec.name}'s ${spec.numHeads} query heads and ${spec.numKvHeads} KV heads`,
    );
  }
}
