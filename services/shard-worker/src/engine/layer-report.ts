/**
 * Reads which device holds which layer from llama.cpp's own load log, so the
 * placement is checked against what the engine did rather than assumed.
 * llama.cpp prints, at debug verbosity (src/llama-model.cpp, load_tensors):
 *   "load_tensors: layer   3 assigned to device RPC0[127.0.0.1:40000], is_swa = 0"
 * Index n_layer is the output layer.
 */
const LAYER_LINE = /load_tensors: layer\s+(\d+) assigned to device (\S+?),/;

export interface LayerAssignment {
  /** Device name as llama.cpp prints it: "CPU" or "RPC0[127.0.0.1:40000]". */
  readonly device: string;
  readonly layer: number;
}

export function parseLayerAssignment(line: string): LayerAssignment | undefined {
  const match = LAYER_LINE.exec(line);
  if (!match?.[1] || !match[2]) return undefined;
  return { layer: Number(match[1]), device: match[2] };
}

/** The loopback port inside an RPC device name, e.g. 40000 for "RPC0[127.0.0.1:40000]". */
export function rpcDevicePort(device: string): number | undefined {
  const match = /^RPC\d*\[[^\]]*:(\d+)\]$/.exec(device);
  return match?.[1] ? Number(match[1]) : undefined;
}
