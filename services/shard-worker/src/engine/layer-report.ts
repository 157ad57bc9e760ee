/**
 * Reads which device holds which layer from llama.cpp's own load log, so the
 * placement is checked against what the engine did rather than assumed.
 * llama.cpp prints, at debug verbosity (src/llama-model.cpp, load_tensors):
 *   "load_tensors: layer   3 assigned to device RPC0, is_swa = 0"
 * (index n_layer is the output layer), and names each RPC device's endpoint:
 *   "llama_prepare_model_devices: using device RPC0 (127.0.0.1:40000) (unknown id) - 24105 MiB free"
 */
const LAYER_LINE = /load_tensors: layer\s+(\d+) assigned to device (\S+?),/;

export interface LayerAssignment {
  /** Device name as llama.cpp prints it: "CPU", "RPC0", "RPC1", … */
  readonly device: string;
  readonly layer: number;
}

export function parseLayerAssignment(line: string): LayerAssignment | undefined {
  const match = LAYER_LINE.exec(line);
  if (!match?.[1] || !match[2]) return undefined;
  return { layer: Number(match[1]), device: match[2] };
}

const DEVICE_LINE = /using device (\S+) \([^)]*:(\d+)\)/;

/** The endpoint port of an RPC device, from llama.cpp's "using device RPC0 (host:port)" line. */
export function parseDeviceEndpoint(line: string): { device: string; port: number } | undefined {
  const match = DEVICE_LINE.exec(line);
  if (!match?.[1] || !match[2]) return undefined;
  return { device: match[1], port: Number(match[2]) };
}

/**
 * llama.cpp's debug lines carry a " D " level marker after the timestamp
 * ("0.01.002.231 D load_tensors: …"). At the verbosity the head needs for the
 * placement lines, llama-server prints dozens of them per token; the head
 * logs only the ones about placement.
 */
export function isPlacementOrNonDebugLine(line: string): boolean {
  if (!/^\s*[\d.]+ D /.test(line)) return true;
  return LAYER_LINE.test(line) || DEVICE_LINE.test(line);
}
