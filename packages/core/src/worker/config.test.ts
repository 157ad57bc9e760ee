import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { DEFAULT_VLLM_STEP_TIMEOUT_SECONDS, parseWorkerEnv, WORKER_ENV, workerEnv } from "./config.js";

const threeStages = [
  { first: 0, last: 9 },
  { first: 10, last: 19 },
  { first: 20, last: 29 },
];

const complete = workerEnv({
  deployment: "smollm",
  replica: 1,
  stage: 2,
  stageLayers: threeStages,
  tensorParallel: 1,
  engine: "llamacpp",
  modelPath: "/models/smollm2.gguf",
  servedModelName: "smollm2-135m",
  maxModelLength: 2048,
  stageAddresses: ["a:7070", "b:7070", "c:7070"],
  tunnelToken: "secret",
  natsUrl: "nats://nats:4222",
});

describe("worker environment contract", () => {
  it("round-trips: what a starter writes parses into the same worker", () => {
    const config = parseWorkerEnv(complete);
    expect(config).toMatchObject({
      deployment: "smollm",
      replica: 1,
      stage: 2,
      role: "stage",
      layers: { first: 20, last: 29 },
      stageLayers: threeStages,
      engine: "llamacpp",
      servedModelName: "smollm2-135m",
      stageAddresses: ["a:7070", "b:7070", "c:7070"],
      tunnelToken: "secret",
      bindHost: "0.0.0.0",
      httpPort: 8080,
      tunnelPort: 7070,
    });
    expect(parseWorkerEnv({ ...complete, [WORKER_ENV.stage]: "0" }).role).toBe("head");
  });

  it("needs no addresses or token for a single stage", () => {
    const config = parseWorkerEnv({
      ...complete,
      [WORKER_ENV.stage]: "0",
      [WORKER_ENV.stageLayers]: "0-29",
      [WORKER_ENV.stageAddresses]: undefined,
      [WORKER_ENV.tunnelToken]: "",
    });
    expect(config).toMatchObject({ role: "head", stageAddresses: [], layers: { first: 0, last: 29 } });
    expect(config.tunnelToken).toBeUndefined();
  });

  it("carries the engine's sequence slots, 4 unless the starter says otherwise", () => {
    expect(parseWorkerEnv(complete).maxSequences).toBe(4);
    const eight = workerEnv({ ...parseWorkerEnv(complete), maxSequences: 8 });
    expect(eight[WORKER_ENV.maxSequences]).toBe("8");
    expect(parseWorkerEnv(eight).maxSequences).toBe(8);
  });

  it("carries expert parallelism for a vLLM mixture of experts, and leaves it out (1) otherwise", () => {
    expect(complete[WORKER_ENV.expertParallel]).toBeUndefined();
    expect(parseWorkerEnv(complete).expertParallel).toBe(1);
    const moe = workerEnv({
      stageLayers: [{ first: 0, last: 60 }],
      deployment: "ds",
      replica: 0,
      stage: 0,
      tensorParallel: 2,
      expertParallel: 8,
      engine: "vllm",
      modelPath: "/models/deepseek-v3",
      servedModelName: "deepseek-v3",
      maxModelLength: 8192,
    });
    expect(moe[WORKER_ENV.expertParallel]).toBe("8");
    expect(parseWorkerEnv(moe)).toMatchObject({ tensorParallel: 2, expertParallel: 8, engine: "vllm" });
    expect(() => parseWorkerEnv({ ...moe, [WORKER_ENV.tensorParallel]: "3" })).toThrow(
      "STRATA_EXPERT_PARALLEL: 8 is not a multiple of STRATA_TENSOR_PARALLEL 3",
    );
  });

  it("carries a vLLM worker's device, memory, cores and step timeout, with defaults", () => {
    const base = {
      stageLayers: [
        { first: 0, last: 14 },
        { first: 15, last: 29 },
      ],
      deployment: "local",
      replica: 0,
      stage: 1,
      tensorParallel: 1,
      engine: "vllm" as const,
      modelPath: "/models/smollm2-hf",
      servedModelName: "smollm2-135m",
      maxModelLength: 2048,
      stageAddresses: ["127.0.0.1:29500", "127.0.0.1:29501"],
    };
    const cpu = workerEnv({
      ...base,
      vllm: { device: "cpu", kvCacheGib: 1, cpuBind: "1", stepTimeoutSeconds: 20 },
    });
    expect(cpu).toMatchObject({
      [WORKER_ENV.device]: "cpu",
      [WORKER_ENV.kvCacheGib]: "1",
      [WORKER_ENV.cpuBind]: "1",
      [WORKER_ENV.stepTimeoutSeconds]: "20",
    });
    expect(parseWorkerEnv(cpu).vllm).toEqual({
      device: "cpu",
      kvCacheGib: 1,
      cpuBind: "1",
      stepTimeoutSeconds: 20,
    });
    // No token needed: vLLM's stages talk over its own collectives, not the tunnel.
    expect(parseWorkerEnv(workerEnv(base)).vllm).toEqual({
      device: "gpu",
      cpuBind: "auto",
      stepTimeoutSeconds: DEFAULT_VLLM_STEP_TIMEOUT_SECONDS,
    });
    const gpu = workerEnv({ ...base, vllm: { gpuMemoryUtilization: 0.9 } });
    expect(parseWorkerEnv(gpu).vllm?.gpuMemoryUtilization).toBe(0.9);
    expect(parseWorkerEnv(complete).vllm).toBeUndefined();
    expect(() => parseWorkerEnv({ ...gpu, [WORKER_ENV.kvCacheGib]: "2" })).toThrow(
      "STRATA_KV_CACHE_GIB: applies to vLLM on CPUs, not STRATA_DEVICE=gpu",
    );
    expect(() => parseWorkerEnv({ ...cpu, [WORKER_ENV.gpuMemoryUtilization]: "0.9" })).toThrow(
      "STRATA_GPU_MEMORY_UTILIZATION: applies to vLLM on GPUs, not STRATA_DEVICE=cpu",
    );
    expect(() => parseWorkerEnv({ ...gpu, [WORKER_ENV.gpuMemoryUtilization]: "1.2" })).toThrow(
      /^STRATA_GPU_MEMORY_UTILIZATION: must be a fraction in \(0, 1\]$/,
    );
    expect(() => parseWorkerEnv({ ...cpu, [WORKER_ENV.kvCacheGib]: "0.5" })).toThrow(
      /^STRATA_KV_CACHE_GIB: must be a whole number$/,
    );
    expect(() => parseWorkerEnv({ ...cpu, [WORKER_ENV.cpuBind]: "all" })).toThrow(/^STRATA_CPU_BIND: /);
  });

  it("carries a llama.cpp stage's tensor cache folder and bound, and has none unless told", () => {
    expect(parseWorkerEnv(complete).rpcCacheDir).toBeUndefined();
    const cached = workerEnv({
      ...parseWorkerEnv(complete),
      rpcCacheDir: "/var/cache/strata/rpc",
      rpcCacheMaxBytes: 64 * 1024 ** 3,
    });
    expect(parseWorkerEnv(cached)).toMatchObject({
      rpcCacheDir: "/var/cache/strata/rpc",
      rpcCacheMaxBytes: 64 * 1024 ** 3,
    });
  });

  const bad: Array<[string, Record<string, string | undefined>, RegExp]> = [
    [
      "a missing variable",
      { [WORKER_ENV.modelPath]: undefined },
      /^STRATA_MODEL_PATH: is required but not set$/,
    ],
    ["an empty variable", { [WORKER_ENV.deployment]: "" }, /^STRATA_DEPLOYMENT: is required but not set$/],
    [
      "a bad deployment name",
      { [WORKER_ENV.deployment]: "Bad_Name" },
      /^STRATA_DEPLOYMENT: must be a lowercase DNS label/,
    ],
    ["a stage that is not a number", { [WORKER_ENV.stage]: "two" }, /^STRATA_STAGE: must be a whole number$/],
    ["a stage beyond the plan", { [WORKER_ENV.stage]: "3" }, /^STRATA_STAGE: 3 is not one of the 3 stages$/],
    [
      "ranges with a gap",
      { [WORKER_ENV.stageLayers]: "0-9,11-29" },
      /^STRATA_STAGE_LAYERS: stage 1 holds 11-29/,
    ],
    [
      "a reversed range",
      { [WORKER_ENV.stageLayers]: "0-9,19-10,20-29" },
      /^STRATA_STAGE_LAYERS: expected an inclusive layer range/,
    ],
    ["an unknown engine", { [WORKER_ENV.engine]: "tgi" }, /^STRATA_ENGINE: /],
    [
      "too few addresses",
      { [WORKER_ENV.stageAddresses]: "a:7070,b:7070" },
      /^STRATA_STAGE_ADDRESSES: names 2 addresses for 3 stages$/,
    ],
    [
      "an address without a port",
      { [WORKER_ENV.stageAddresses]: "a,b:7070,c:7070" },
      /^STRATA_STAGE_ADDRESSES: "a": each must be host:port$/,
    ],
    [
      "no token between llama.cpp stages",
      { [WORKER_ENV.tunnelToken]: undefined },
      /^STRATA_TUNNEL_TOKEN: is required/,
    ],
    ["a port out of range", { [WORKER_ENV.httpPort]: "70000" }, /^STRATA_HTTP_PORT: /],
    ["no sequence slots", { [WORKER_ENV.maxSequences]: "0" }, /^STRATA_MAX_SEQUENCES: /],
    [
      "a vLLM setting for llama.cpp",
      { [WORKER_ENV.kvCacheGib]: "1" },
      /^STRATA_KV_CACHE_GIB: is only read by the vllm engine$/,
    ],
    [
      "expert parallelism on llama.cpp",
      { [WORKER_ENV.expertParallel]: "8" },
      /^STRATA_EXPERT_PARALLEL: 8 needs the vllm engine/,
    ],
    [
      "a tensor cache on vLLM",
      { [WORKER_ENV.engine]: "vllm", [WORKER_ENV.rpcCacheDir]: "/cache" },
      /^STRATA_RPC_CACHE_DIR: is for llama.cpp stages/,
    ],
    [
      "a cache bound without a cache",
      { [WORKER_ENV.rpcCacheMaxBytes]: "1000" },
      /^STRATA_RPC_CACHE_MAX_BYTES: needs STRATA_RPC_CACHE_DIR$/,
    ],
    [
      "a cache bound that is not a number",
      { [WORKER_ENV.rpcCacheDir]: "/c", [WORKER_ENV.rpcCacheMaxBytes]: "10G" },
      /^STRATA_RPC_CACHE_MAX_BYTES: must be a whole number$/,
    ],
  ];
  it.each(bad)("refuses %s with one line naming the variable", (_name, change, message) => {
    let error: unknown;
    try {
      parseWorkerEnv({ ...complete, ...change });
    } catch (err: unknown) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    expect(text.split("\n")).toHaveLength(1);
  });
});
