import { resolve } from "node:path";
import { InputError } from "@strata/core";
import {
  convertGgufToHf,
  ModelConvertError,
  ModelPullError,
  ModelShapeError,
  pullModel,
  TINY_LLAMA_DEFAULTS,
  writeTinyLlamaGguf,
} from "@strata/shard-worker";
import { type Command, InvalidArgumentError, Option } from "commander";
import { nonNegativeInt, positiveInt } from "../flags.js";

const FLAG_BY_FIELD = {
  layers: "--layers",
  hidden: "--hidden",
  heads: "--heads",
  kvHeads: "--kv-heads",
  ffn: "--ffn",
  seed: "--seed",
  contextLength: "--context",
  tensorType: "--type",
} as const;

function tensorType(value: string): "f32" | "f16" {
  if (value !== "f32" && value !== "f16")
    throw new InvalidArgumentError(`must be f32 or f16, got "${value}"`);
  return value;
}

interface GenerateFlags {
  out: string;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  seed: number;
  context: number;
  type: "f32" | "f16";
}

/**
 * `strata model generate`: a llama-architecture GGUF with deterministic random weights.
 * `strata model pull NAME`: a real model into ~/.cache/strata/models.
 * `strata model convert --to hf IN.gguf OUT/`: a Hugging Face folder for vLLM.
 */
export function registerModelCommand(program: Command): void {
  const model = program.command("model").description("Work with model files");
  const d = TINY_LLAMA_DEFAULTS;
  model
    .command("generate")
    .description(
      "Write a llama-architecture GGUF with deterministic random weights and a byte-level vocabulary (for tests and demos)",
    )
    .requiredOption("--out <path>", "file to write, e.g. tiny.gguf")
    .option("--layers <n>", "transformer blocks", positiveInt, d.layers)
    .option("--hidden <n>", "embedding width", positiveInt, d.hidden)
    .option("--heads <n>", "attention heads", positiveInt, d.heads)
    .option("--kv-heads <n>", "key/value heads (grouped-query attention)", positiveInt, d.kvHeads)
    .option("--ffn <n>", "feed-forward width", positiveInt, d.ffn)
    .option("--seed <n>", "weights seed", nonNegativeInt, d.seed)
    .option("--context <n>", "context length written to the header", positiveInt, d.contextLength)
    .addOption(
      new Option("--type <type>", "weight type: f32 or f16").argParser(tensorType).default(d.tensorType),
    )
    .action(async (flags: GenerateFlags) => {
      const out = resolve(flags.out);
      try {
        const bytes = await writeTinyLlamaGguf(out, {
          layers: flags.layers,
          hidden: flags.hidden,
          heads: flags.heads,
          kvHeads: flags.kvHeads,
          ffn: flags.ffn,
          seed: flags.seed,
          contextLength: flags.context,
          tensorType: flags.type,
        });
        process.stdout.write(
          `wrote ${out} (${(bytes / 1024 / 1024).toFixed(1)} MiB, ${flags.layers} layers)\n`,
        );
      } catch (err: unknown) {
        if (err instanceof ModelShapeError) throw new InputError(FLAG_BY_FIELD[err.field], err.message);
        if (err instanceof Error && "code" in err && typeof err.code === "string") {
          throw new InputError("--out", `cannot write ${out}: ${err.code}`);
        }
        throw err;
      }
    });

  model
    .command("pull")
    .description("Download a catalog model's GGUF into ~/.cache/strata/models (pinned, SHA-256 checked)")
    .argument("<name>", "catalog model, e.g. smollm2-135m")
    .action(async (name: string) => {
      try {
        const pulled = await pullModel(name, { log: (line) => process.stderr.write(`${line}\n`) });
        process.stdout.write(`${pulled.path}\n`);
      } catch (err: unknown) {
        if (err instanceof ModelPullError)
          throw new InputError(`model pull ${name}`, err.message, { cause: err });
        throw err;
      }
    });

  model
    .command("convert")
    .description(
      "Convert a llama-architecture GGUF into a Hugging Face folder (float32 safetensors, tokenizer, chat template) that vLLM loads",
    )
    .requiredOption("--to <format>", "output format: hf")
    .argument("<in>", "GGUF file")
    .argument("<out>", "folder to create (must not exist or be empty)")
    .action(async (input: string, out: string, flags: { to: string }) => {
      if (flags.to !== "hf") throw new InputError("--to", `must be hf, got "${flags.to}"`);
      try {
        const converted = await convertGgufToHf(resolve(input), resolve(out), {
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`${converted.dir}\n`);
      } catch (err: unknown) {
        if (err instanceof ModelConvertError)
          throw new InputError("model convert", err.message, { cause: err });
        throw err;
      }
    });
}
