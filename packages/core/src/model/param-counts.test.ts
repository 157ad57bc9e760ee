import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { modelSpecFromHfConfig } from "./hf-config.js";
import { activeParams, totalParams } from "./model-spec.js";

/** A published config.json from hf-configs/ (SOURCES.md says where each was read). */
function publishedConfig(file: string): unknown {
  return JSON.parse(readFileSync(new URL(`./hf-configs/${file}`, import.meta.url), "utf8"));
}

interface Published {
  readonly file: string;
  readonly total: number;
  readonly active: number;
  /**
   * Whether the publisher's active figure counts the input embedding table.
   * activeParams() leaves it out (a token reads one row of it); OpenAI's
   * gpt-oss figure does too (5.1B; with the table it would be 5.7B), while
   * Meta, Mistral, Qwen and DeepSeek count it (Maverick's 17B is 16.2B without).
   * Dense models: every parameter is active.
   */
  readonly activeCountsEmbedding: boolean;
  readonly source: string;
}

// Publishers' figures. Llama 3.1: Meta's model card. Mixtral: Mistral's announcement.
// Qwen3: the model card. DeepSeek-V3: the technical report's abstract (671B main model;
// the 14B multi-token-prediction module on Hugging Face is not served without
// speculative decoding, README). gpt-oss: OpenAI's announcement and model card.
// Llama 4: Meta's announcement.
const PUBLISHED: readonly Published[] = [
  {
    file: "meta-llama--Meta-Llama-3.1-8B.json",
    total: 8e9,
    active: 8e9,
    activeCountsEmbedding: true,
    source: "https://github.com/meta-llama/llama-models/blob/main/models/llama3_1/MODEL_CARD.md",
  },
  {
    file: "meta-llama--Meta-Llama-3.1-70B.json",
    total: 70e9,
    active: 70e9,
    activeCountsEmbedding: true,
    source: "https://github.com/meta-llama/llama-models/blob/main/models/llama3_1/MODEL_CARD.md",
  },
  {
    file: "meta-llama--Meta-Llama-3.1-405B.json",
    total: 405e9,
    active: 405e9,
    activeCountsEmbedding: true,
    source: "https://github.com/meta-llama/llama-models/blob/main/models/llama3_1/MODEL_CARD.md",
  },
  {
    file: "mistralai--Mixtral-8x7B-v0.1.json",
    total: 46.7e9,
    active: 12.9e9,
    activeCountsEmbedding: true,
    source: "https://mistral.ai/news/mixtral-of-experts",
  },
  {
    file: "Qwen--Qwen3-235B-A22B.json",
    total: 235e9,
    active: 22e9,
    activeCountsEmbedding: true,
    source: "https://huggingface.co/Qwen/Qwen3-235B-A22B",
  },
  {
    file: "deepseek-ai--DeepSeek-V3.json",
    total: 671e9,
    active: 37e9,
    activeCountsEmbedding: true,
    source: "https://arxiv.org/abs/2412.19437",
  },
  {
    file: "openai--gpt-oss-120b.json",
    total: 116.8e9,
    active: 5.1e9,
    activeCountsEmbedding: false,
    source: "https://openai.com/index/introducing-gpt-oss/",
  },
  {
    file: "meta-llama--Llama-4-Maverick-17B-128E-Instruct.json",
    total: 400e9,
    active: 17e9,
    activeCountsEmbedding: true,
    source: "https://ai.meta.com/blog/llama-4-multimodal-intelligence/",
  },
];

describe("parameter counts from published configs", () => {
  it.each(PUBLISHED.map((p) => [p.file, p] as const))(
    "%s: total within 1% and active within 2% of the published figures",
    (file, { total, active, activeCountsEmbedding }) => {
      const spec = modelSpecFromHfConfig(publishedConfig(file));
      const embedding = spec.vocabSize * spec.hiddenSize;
      const computedActive = activeParams(spec) + (activeCountsEmbedding ? embedding : 0);
      console.log(
        `${file}: total ${(totalParams(spec) / 1e9).toFixed(2)}B (published ${total / 1e9}B), ` +
          `active ${(computedActive / 1e9).toFixed(2)}B (published ${active / 1e9}B)`,
      );
      expect(Math.abs(totalParams(spec) / total - 1)).toBeLessThan(0.01);
      expect(Math.abs(computedActive / active - 1)).toBeLessThan(0.02);
    },
  );

  it("counts every parameter as active in a dense model, and fewer in a mixture of experts", () => {
    for (const { file } of PUBLISHED) {
      const spec = modelSpecFromHfConfig(publishedConfig(file));
      const withEmbedding = activeParams(spec) + spec.vocabSize * spec.hiddenSize;
      if (spec.moe) expect(withEmbedding).toBeLessThan(totalParams(spec) / 2);
      else expect(withEmbedding).toBe(totalParams(spec));
    }
  });
});
