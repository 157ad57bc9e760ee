import { InputError } from "../errors.js";
import { type ModelSpec, validateModelShape } from "./model-spec.js";

export interface HfConfigOptions {
  /** The model's name in plans; default `_name_or_path` from the config, else "model". */
  readonly name?: string;
  /** How errors name the input, e.g. the file path. Default "config.json". */
  readonly source?: string;
}

/**
 * A ModelSpec from a parsed Hugging Face `config.json` with llama-style keys
 * (Llama, Mistral, Qwen2 and most decoder-only models). Multimodal configs that
 * nest the language model under `text_config` are read from there.
 * @throws InputError naming the missing or bad key
 */
export function modelSpecFromHfConfig(json: unknown, options: HfConfigOptions = {}): ModelSpec {
  const source = options.source ?? "config.json";
  if (!isObject(json)) throw new InputError(source, "must be a JSON object");
  const cfg = !("num_hidden_layers" in json) && isObject(json.text_config) ? json.text_config : json;

  const int = (key: string, fallback?: number): number => {
    const v = cfg[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new InputError(`${source}: ${key}`, "is missing");
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
      throw new InputError(`${source}: ${key}`, `must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };

  const numLayers = int("num_hidden_layers");
  const hiddenSize = int("hidden_size");
  const numHeads = int("num_attention_heads");
  const numKvHeads = int("num_key_value_heads", numHeads);
  const headDim = int("head_dim", Math.floor(hiddenSize / numHeads));
  const ffnSize = int("intermediate_size");
  const vocabSize = int("vocab_size");
  const tied = cfg.tie_word_embeddings ?? false;
  if (typeof tied !== "boolean") {
    throw new InputError(
      `${source}: tie_word_embeddings`,
      `must be true or false, got ${JSON.stringify(tied)}`,
    );
  }
  const maxPos = cfg.max_position_embeddings === undefined ? undefined : int("max_position_embeddings");
  const nameOrPath = json._name_or_path;
  const name = options.name ?? (typeof nameOrPath === "string" && nameOrPath !== "" ? nameOrPath : "model");

  const spec: ModelSpec = {
    name,
    numLayers,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    ffnSize,
    vocabSize,
    tiedEmbeddings: tied,
    ...(maxPos === undefined ? {} : { maxPositionEmbeddings: maxPos }),
    weights: { kind: "dtype" },
  };
  validateModelShape(spec, source);
  return spec;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
