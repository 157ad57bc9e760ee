import { InputError } from "../errors.js";
import { HF_ARCHITECTURES, HF_NESTED_ARCHITECTURES } from "./hf-architectures.js";
import { ConfigFields, type ConfigObject, isObject } from "./hf-fields.js";
import {
  type DtypeWeights,
  type MlaShape,
  type ModelShape,
  type ModelSpec,
  type MoeShape,
  validateModelShape,
  type WeightDtype,
} from "./model-spec.js";

export interface HfConfigOptions {
  /** The model's name in plans; default `_name_or_path` from the config, else "model". */
  readonly name?: string;
  /** How errors name the input, e.g. the file path. Default "config.json". */
  readonly source?: string;
}

type ShapeParts = Omit<ModelShape, "name">;

/**
 * A ModelSpec from a parsed Hugging Face `config.json`. Supported `model_type`s
 * are the keys of HF_ARCHITECTURES: dense llama-style decoders (llama, mistral,
 * qwen2, qwen3) and mixture-of-experts models (mixtral, qwen3_moe,
 * deepseek_v3, kimi_k2, gpt_oss, llama4). Anything else, or a field the
 * architecture's list does not know, is refused rather than planned as if absent.
 * @throws InputError naming the missing, bad or unknown field
 */
export function modelSpecFromHfConfig(json: unknown, options: HfConfigOptions = {}): ModelSpec {
  const source = options.source ?? "config.json";
  if (!isObject(json)) throw new InputError(source, "must be a JSON object");
  const modelType = json.model_type;
  if (typeof modelType !== "string" || modelType === "") {
    throw new InputError(`${source}: model_type`, `is missing; supported: ${supportedTypes()}`);
  }
  const list = HF_ARCHITECTURES.get(modelType);
  if (!list) {
    throw new InputError(
      `${source}: model_type`,
      `"${modelType}" is not an architecture Strata models; supported: ${supportedTypes()}`,
    );
  }
  const f = new ConfigFields(json, list, source);
  f.refuseUnknown();
  const parts = modelType === "llama4" ? llama4(f) : shapeOf(modelType, f);
  const nameOrPath = json._name_or_path;
  const name = options.name ?? (typeof nameOrPath === "string" && nameOrPath !== "" ? nameOrPath : "model");
  const spec: ModelSpec = { name, ...parts, weights: checkpointWeights(f) };
  validateModelShape(spec, source);
  return spec;
}

function supportedTypes(): string {
  return [...HF_ARCHITECTURES.keys()].join(", ");
}

function shapeOf(modelType: string, f: ConfigFields): ShapeParts {
  switch (modelType) {
    case "mixtral":
      return { ...decoder(f), moe: mixtralExperts(f) };
    case "qwen3_moe":
      return { ...decoder(f), moe: qwen3Experts(f) };
    case "deepseek_v3":
    case "kimi_k2":
      return deepseekV3(f);
    case "gpt_oss":
      return { ...decoder(f), moe: gptOssExperts(f) };
    case "llama4_text":
      return llama4Text(f, f.bool("tie_word_embeddings", false));
    default:
      // llama, mistral, qwen2, qwen3: a dense decoder. Qwen2 always biases q, k and v.
      return { ...decoder(f), ...(modelType === "qwen2" ? { attentionBias: true } : {}) };
  }
}

/** The fields every llama-style decoder shares. */
function decoder(f: ConfigFields): ShapeParts {
  const numLayers = f.int("num_hidden_layers");
  const hiddenSize = f.int("hidden_size");
  const numHeads = f.int("num_attention_heads");
  const numKvHeads = f.int("num_key_value_heads", numHeads);
  const headDim = f.int("head_dim", Math.floor(hiddenSize / numHeads));
  const ffnSize = f.int("intermediate_size");
  const vocabSize = f.int("vocab_size");
  const tied = f.bool("tie_word_embeddings", false);
  const attentionBias = f.bool("attention_bias", false);
  if (f.bool("mlp_bias", false)) {
    throw new InputError(
      `${f.where}: mlp_bias`,
      "true is not modelled (MLP biases); refusing to plan without it",
    );
  }
  const maxPos = f.has("max_position_embeddings") ? f.int("max_position_embeddings") : undefined;
  return {
    numLayers,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    ffnSize,
    vocabSize,
    tiedEmbeddings: tied,
    ...(maxPos === undefined ? {} : { maxPositionEmbeddings: maxPos }),
    ...(attentionBias ? { attentionBias } : {}),
  };
}

/** Experts per token, checked against the expert count and named by both fields. */
function topK(f: ConfigFields, expertsKey: string, numExperts: number, key = "num_experts_per_tok"): number {
  const k = f.int(key);
  if (k > numExperts) {
    throw new InputError(
      `${f.where}: ${key}`,
      `${k} exceeds the ${numExperts} routed experts (${expertsKey})`,
    );
  }
  return k;
}

/** A field that an expert count makes necessary. */
function needed(f: ConfigFields, key: string, because: string): number {
  if (!f.has(key)) {
    throw new InputError(`${f.where}: ${key}`, `is missing, and ${because} needs it`);
  }
  return f.int(key);
}

function mixtralExperts(f: ConfigFields): MoeShape {
  const numExperts = f.int("num_local_experts");
  return {
    numExperts,
    expertsPerToken: topK(f, "num_local_experts", numExperts),
    expertFfnSize: f.int("intermediate_size"),
    sharedExperts: 0,
    sharedExpertFfnSize: 0,
    denseLayers: [],
  };
}

/**
 * Qwen3-MoE: a layer has experts unless listed in mlp_only_layers or skipped by
 * decoder_sparse_step (transformers' Qwen3MoeDecoderLayer:
 * `layer_idx not in mlp_only_layers and (layer_idx + 1) % decoder_sparse_step == 0`).
 */
function qwen3Experts(f: ConfigFields): MoeShape {
  const numExperts = f.int("num_experts");
  const expertsPerToken = topK(f, "num_experts", numExperts);
  const expertFfnSize = needed(f, "moe_intermediate_size", "num_experts");
  const numLayers = f.int("num_hidden_layers");
  const step = f.int("decoder_sparse_step", 1);
  const mlpOnly = new Set(f.indices("mlp_only_layers") ?? []);
  const denseLayers = range(numLayers).filter((i) => mlpOnly.has(i) || (i + 1) % step !== 0);
  return {
    numExperts,
    expertsPerToken,
    expertFfnSize,
    sharedExperts: 0,
    sharedExpertFfnSize: 0,
    denseLayers,
  };
}

/**
 * DeepSeek-V3 (and Kimi K2, the same code): MLA attention; a layer has experts when
 * `layer_idx >= first_k_dense_replace and layer_idx % moe_layer_freq == 0`
 * (modeling_deepseek.py, DeepseekV3DecoderLayer); the shared experts are one MLP
 * of n_shared_experts × moe_intermediate_size.
 */
function deepseekV3(f: ConfigFields): ShapeParts {
  const base = decoder(f);
  const qkNopeHeadDim = f.int("qk_nope_head_dim");
  const qkRopeHeadDim = f.int("qk_rope_head_dim");
  const mla: MlaShape = {
    qLoraRank: f.has("q_lora_rank") ? f.int("q_lora_rank") : 0,
    kvLoraRank: f.int("kv_lora_rank"),
    qkNopeHeadDim,
    qkRopeHeadDim,
    vHeadDim: f.int("v_head_dim"),
  };
  const shape: ShapeParts = {
    ...base,
    // MLA: every head attends over the latent; the KV cache holds mla, not heads.
    numKvHeads: base.numHeads,
    headDim: qkNopeHeadDim + qkRopeHeadDim,
    valueHeadDim: mla.vHeadDim,
    mla,
  };
  if (!f.has("n_routed_experts")) {
    for (const key of ["moe_intermediate_size", "n_shared_experts", "first_k_dense_replace"]) {
      if (f.has(key)) throw new InputError(`${f.where}: ${key}`, "is set, but n_routed_experts is missing");
    }
    return shape;
  }
  const numExperts = f.int("n_routed_experts");
  const expertsPerToken = topK(f, "n_routed_experts", numExperts);
  const expertFfnSize = needed(f, "moe_intermediate_size", "n_routed_experts");
  const firstDense = f.has("first_k_dense_replace")
    ? f.count("first_k_dense_replace", 0)
    : needed(f, "first_k_dense_replace", "n_routed_experts");
  const freq = f.int("moe_layer_freq", 1);
  const sharedExperts = f.count("n_shared_experts", 0);
  const denseLayers = range(base.numLayers).filter((i) => i < firstDense || i % freq !== 0);
  return {
    ...shape,
    moe: {
      numExperts,
      expertsPerToken,
      expertFfnSize,
      sharedExperts: sharedExperts > 0 ? 1 : 0,
      sharedExpertFfnSize: sharedExperts * expertFfnSize,
      denseLayers,
    },
  };
}

/** gpt-oss: every layer has experts of intermediate_size; experts_per_token is an older spelling of the top-k. */
function gptOssExperts(f: ConfigFields): MoeShape {
  const numExperts = f.int("num_local_experts");
  const expertsPerToken = topK(f, "num_local_experts", numExperts);
  if (f.has("experts_per_token") && f.int("experts_per_token") !== expertsPerToken) {
    throw new InputError(
      `${f.where}: experts_per_token`,
      `${f.int("experts_per_token")} disagrees with num_experts_per_tok ${expertsPerToken}`,
    );
  }
  return {
    numExperts,
    expertsPerToken,
    expertFfnSize: f.int("intermediate_size"),
    sharedExperts: 0,
    sharedExpertFfnSize: 0,
    denseLayers: [],
  };
}

/**
 * Llama 4's language model: dense layers use intermediate_size_mlp; MoE layers
 * have routed experts and one shared expert, both of intermediate_size. MoE
 * layers are `moe_layers`, else every interleave_moe_layer_step-th layer
 * (transformers' Llama4TextConfig: `range(step - 1, num_hidden_layers, step)`).
 */
function llama4Text(f: ConfigFields, tiedEmbeddings: boolean): ShapeParts {
  const base = decoder(f);
  const numExperts = f.int("num_local_experts");
  const expertsPerToken = topK(f, "num_local_experts", numExperts);
  const expertFfnSize = f.int("intermediate_size");
  const step = f.int("interleave_moe_layer_step", 1);
  const listed = f.indices("moe_layers");
  const isMoe = (i: number) => (listed ? listed.includes(i) : (i + 1) % step === 0);
  return {
    ...base,
    ffnSize: f.int("intermediate_size_mlp"),
    tiedEmbeddings,
    moe: {
      numExperts,
      expertsPerToken,
      expertFfnSize,
      sharedExperts: 1,
      sharedExpertFfnSize: expertFfnSize,
      denseLayers: range(base.numLayers).filter((i) => !isMoe(i)),
    },
  };
}

/** Llama4ForConditionalGeneration: the language model from text_config, the vision encoder counted on the side. */
function llama4(f: ConfigFields): ShapeParts {
  const text = nested(f, "text_config", "llama4_text");
  if (!text) throw new InputError(`${f.where}: text_config`, "is missing");
  const shape = llama4Text(text, f.bool("tie_word_embeddings", false));
  const vision = nested(f, "vision_config", "llama4_vision_model");
  return vision ? { ...shape, extraParams: llama4VisionParams(vision, shape.hiddenSize) } : shape;
}

function nested(f: ConfigFields, key: string, defaultType: string): ConfigFields | undefined {
  const obj: ConfigObject | undefined = f.object(key);
  if (!obj) return undefined;
  const where = `${f.where}: ${key}`;
  const type = typeof obj.model_type === "string" ? obj.model_type : defaultType;
  const list = HF_NESTED_ARCHITECTURES.get(type);
  if (!list || type !== defaultType) {
    throw new InputError(`${where}: model_type`, `"${type}" is not a ${defaultType} config`);
  }
  const fields = new ConfigFields(obj, list, where);
  fields.refuseUnknown();
  return fields;
}

/**
 * Parameters of Llama 4's vision encoder and projector, as transformers and vLLM
 * build them (a ViT with biased attention and GELU MLP, a pixel-shuffle MLP
 * adapter, one linear projection into the text model): patch embedding,
 * class and position embeddings, pre/post LayerNorms, the layers, the adapter
 * and the projector.
 */
function llama4VisionParams(v: ConfigFields, textHidden: number): number {
  const h = v.int("hidden_size");
  const i = v.int("intermediate_size");
  const patch = v.int("patch_size");
  const patches = (v.int("image_size") / patch) ** 2;
  const layer = 4 * (h * h + h) + (2 * h * i + i + h) + 4 * h;
  const inDim = v.int("projector_input_dim");
  const outDim = v.int("projector_output_dim");
  const adapterBias = v.bool("multi_modal_projector_bias", false) ? inDim + outDim : 0;
  return (
    v.int("num_channels") * patch * patch * h +
    h +
    (patches + 1) * h +
    4 * h +
    v.int("num_hidden_layers") * layer +
    i * inDim +
    inDim * outDim +
    adapterBias +
    v.int("vision_output_dim") * textHidden
  );
}

/**
 * The precision the checkpoint ships: quantization_config's method when it
 * names one Strata knows (fp8, mxfp4), else torch_dtype (or its newer name dtype).
 */
function checkpointWeights(f: ConfigFields): DtypeWeights {
  const q = f.object("quantization_config");
  if (q) {
    const method = typeof q.quant_method === "string" ? q.quant_method : "unknown";
    const known: Record<string, WeightDtype> = { fp8: "fp8", mxfp4: "mxfp4" };
    const dtype = known[method];
    return dtype ? { kind: "dtype", checkpointDtype: dtype } : { kind: "dtype", quantization: method };
  }
  const torchDtype = f.string("torch_dtype") ?? f.string("dtype");
  const byName: Record<string, WeightDtype> = { bfloat16: "bf16", float16: "fp16" };
  const dtype = torchDtype === undefined ? undefined : byName[torchDtype];
  return dtype ? { kind: "dtype", checkpointDtype: dtype } : { kind: "dtype" };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
