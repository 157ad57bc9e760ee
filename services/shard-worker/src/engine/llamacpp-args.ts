import { checkStageRanges, DEFAULT_MAX_SEQUENCES, type LayerRange, layerCount } from "@strata/core";

/**
 * Command lines for the two llama.cpp roles, and the translation from a
 * pipeline plan (inclusive layer ranges per stage) to `-ngl` and `--tensor-split`.
 *
 * How llama.cpp places layers (src/llama-model.cpp, load_tensors): with L
 * repeating layers plus the output layer at index L, the last `ngl` of those
 * L+1 indices are offloaded, the rest stay on the CPU of the process that
 * loads the model (the head). Offloaded index j (counted from the first
 * offloaded one) goes to the first device whose cumulative normalised
 * `--tensor-split` share exceeds j/ngl. So: stage 0 (the head) keeps its
 * layers and the input embedding on its CPU, and giving each remote stage a
 * split equal to its layer count (the last one +1 for the output layer) puts
 * exactly its planned layers on it.
 */

export interface OffloadPlan {
  readonly nGpuLayers: number;
  /** One share per remote stage, in stage order. */
  readonly tensorSplit: readonly number[];
}

/**
 * The `-ngl` and `--tensor-split` that put exactly each stage's layers on it.
 * @throws InputError("layers") when the ranges do not cover 0..numLayers-1 in order
 */
export function offloadPlanFor(ranges: readonly LayerRange[], numLayers: number): OffloadPlan {
  checkStageRanges(ranges, numLayers, "layers");
  const [, ...remote] = ranges;
  if (remote.length === 0) return { nGpuLayers: 0, tensorSplit: [] };
  const counts = remote.map((r, i) => layerCount(r) + (i === remote.length - 1 ? 1 : 0));
  return { nGpuLayers: counts.reduce((a, b) => a + b, 0), tensorSplit: counts };
}

/** `cache`: serve weights from the tensor cache in $LLAMA_CACHE/rpc (engine/rpc-cache.ts). */
export function rpcServerArgs(port: number, threads?: number, cache = false): string[] {
  const args = ["--host", "127.0.0.1", "--port", String(port)];
  if (threads !== undefined) args.push("--threads", String(threads));
  if (cache) args.push("--cache");
  return args;
}

export interface LlamaServerArgsInput {
  readonly modelPath: string;
  /** The model's name in the OpenAI API (`/v1/models`, the `model` field); never a file path. */
  readonly servedName?: string;
  readonly host: string;
  readonly port: number;
  readonly contextSize: number;
  /** Slots: sequences decoded at once, each free to use the whole context (default 4). */
  readonly maxSequences?: number;
  readonly rpcEndpoints: readonly string[];
  readonly offload: OffloadPlan;
  readonly threads?: number;
}

export function llamaServerArgs(input: LlamaServerArgsInput): string[] {
  const args = [
    "--model",
    input.modelPath,
    "--host",
    input.host,
    "--port",
    String(input.port),
    "--ctx-size",
    String(input.contextSize),
    // Slots share one KV cache of --ctx-size (--kv-unified), so a single long
    // sequence still gets the whole context; a request may ask for up to this many
    // completions (`n`), more is llama-server's 400 naming the field.
    "--parallel",
    String(input.maxSequences ?? DEFAULT_MAX_SEQUENCES),
    "--kv-unified",
    // Chat requests go through the model's own template (tokenizer.chat_template
    // in the GGUF), rendered by the Jinja engine; explicit, as the default has moved.
    "--jinja",
    // Debug verbosity makes llama.cpp log where each layer lives (layer-report.ts).
    "--log-verbosity",
    "5",
    "--no-webui",
    // The plan decides placement: no automatic fitting (it would also load the model twice).
    "--fit",
    "off",
    // No busy-waiting for work: while a remote stage computes, the head's
    // threads would spin on the CPU that the tunnel processes need.
    "--poll",
    "0",
    // Prometheus /metrics, re-exported by the worker under Strata's names (metrics/llama-metrics.ts).
    "--metrics",
  ];
  if (input.servedName !== undefined) args.push("--alias", input.servedName);
  if (input.threads !== undefined) args.push("--threads", String(input.threads));
  if (input.rpcEndpoints.length > 0) {
    args.push(
      "--rpc",
      input.rpcEndpoints.join(","),
      "--n-gpu-layers",
      String(input.offload.nGpuLayers),
      "--tensor-split",
      input.offload.tensorSplit.join(","),
    );
  } else {
    args.push("--n-gpu-layers", "0");
  }
  return args;
}
