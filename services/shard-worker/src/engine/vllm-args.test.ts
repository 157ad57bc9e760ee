import { describe, expect, it } from "vitest";
import { type VllmGroupPlan, VllmPlanError, vllmServeCommand } from "./vllm-args.js";

const PP2: VllmGroupPlan = {
  model: "/models/smollm2-hf",
  servedName: "smollm2-135m",
  tensorParallel: 1,
  pipelineParallel: 2,
  nodes: 2,
  masterAddr: "10.0.0.5",
  masterPort: 29511,
  host: "0.0.0.0",
  port: 8000,
  maxModelLen: 2048,
  dtype: "float32",
  heads: { query: 9, kv: 3 },
  stepTimeoutSeconds: 20,
  cpu: { kvCacheGiB: 1, threadsBind: ["0", "1"], compile: "trace-eager" },
};

describe("vllm serve arguments for a node of a group", () => {
  it("rank 0 serves the API and joins the group as node 0", () => {
    const head = vllmServeCommand(PP2, 0);
    expect(head.args).toEqual([
      "serve",
      "/models/smollm2-hf",
      "--served-model-name",
      "smollm2-135m",
      "--tensor-parallel-size",
      "1",
      "--pipeline-parallel-size",
      "2",
      "--distributed-executor-backend",
      "mp",
      "--nnodes",
      "2",
      "--node-rank",
      "0",
      "--master-addr",
      "10.0.0.5",
      "--master-port",
      "29511",
      "--host",
      "0.0.0.0",
      "--port",
      "8000",
      "--disable-uvicorn-access-log",
      "--max-model-len",
      "2048",
      "--dtype",
      "float32",
      "--compilation-config",
      '{"mode":2,"backend":"eager"}',
    ]);
    expect(head.env).toMatchObject({
      VLLM_CPU_KVCACHE_SPACE: "1",
      VLLM_CPU_OMP_THREADS_BIND: "0",
      VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS: "20",
      HF_HUB_OFFLINE: "1",
    });
    expect(head.localRanks).toBe(1);
  });

  it("ranks above 0 run headless, with the same model and parallel flags and their own cores", () => {
    const head = vllmServeCommand(PP2, 0);
    const worker = vllmServeCommand(PP2, 1);
    expect(worker.args).toContain("--headless");
    expect(worker.args).not.toContain("--port");
    expect(worker.args[worker.args.indexOf("--node-rank") + 1]).toBe("1");
    const shared = (args: readonly string[]) =>
      args.filter(
        (_, i) =>
          !["--node-rank", "--host", "--port"].includes(args[i - 1] ?? "") &&
          !["--node-rank", "--host", "--port", "--headless", "--disable-uvicorn-access-log"].includes(
            args[i] ?? "",
          ),
      );
    expect(shared(worker.args)).toEqual(shared(head.args));
    expect(worker.env.VLLM_CPU_OMP_THREADS_BIND).toBe("1");
  });

  it("the plan's layer split, this node's address and a GPU memory share reach vLLM", () => {
    const gpu = vllmServeCommand(
      {
        ...PP2,
        cpu: undefined,
        layerPartition: [16, 14],
        hostIp: "10.0.0.6",
        gpuMemoryUtilization: 0.85,
      },
      1,
    );
    expect(gpu.env).toMatchObject({ VLLM_PP_LAYER_PARTITION: "16,14", VLLM_HOST_IP: "10.0.0.6" });
    expect(gpu.args.slice(gpu.args.indexOf("--gpu-memory-utilization"))).toEqual([
      "--gpu-memory-utilization",
      "0.85",
    ]);
    expect(gpu.env.VLLM_CPU_KVCACHE_SPACE).toBeUndefined();
  });

  it("one node with TP 2 needs no multi-node flags and binds both ranks", () => {
    const tp2 = vllmServeCommand(
      {
        ...PP2,
        tensorParallel: 2,
        pipelineParallel: 1,
        nodes: 1,
        heads: { query: 4, kv: 2 },
        cpu: { kvCacheGiB: 1, threadsBind: ["0|1"], compile: "inductor" },
      },
      0,
    );
    expect(tp2.args).not.toContain("--nnodes");
    expect(tp2.args).not.toContain("--compilation-config");
    expect(tp2.env.VLLM_CPU_OMP_THREADS_BIND).toBe("0|1");
    expect(tp2.localRanks).toBe(2);
  });

  it.each([
    [
      "a tp that does not divide the heads",
      { tensorParallel: 2, pipelineParallel: 1, nodes: 1, cpu: undefined },
      "tensorParallel",
      /tp 2 does not divide the model's 9 query and 3 KV heads/,
    ],
    [
      "ranks that do not split over the nodes",
      { nodes: 3, cpu: undefined },
      "nodes",
      /3 nodes cannot split 2 ranks/,
    ],
    [
      "TP across CPU nodes",
      { tensorParallel: 2, pipelineParallel: 1, heads: { query: 4, kv: 2 } },
      "tensorParallel",
      /spans nodes/,
    ],
    [
      "a fractional KV cache",
      { cpu: { kvCacheGiB: 0.5, threadsBind: "auto" as const, compile: "inductor" as const } },
      "cpu.kvCacheGiB",
      /positive integer/,
    ],
    [
      "a binding per node that does not match the ranks",
      { cpu: { kvCacheGiB: 1, threadsBind: ["0|1", "1"], compile: "inductor" as const } },
      "cpu.threadsBind",
      /node 0: "0\|1" binds 2 ranks/,
    ],
    [
      "a layer split of another pipeline depth",
      { layerPartition: [10, 10, 10] },
      "layerPartition",
      /names 3 stages for pp 2/,
    ],
    [
      "a GPU memory share on the CPU backend",
      { gpuMemoryUtilization: 0.9 },
      "gpuMemoryUtilization",
      /does not apply to the CPU backend/,
    ],
    [
      "a GPU memory share above 1",
      { cpu: undefined, gpuMemoryUtilization: 1.5 },
      "gpuMemoryUtilization",
      /must be in \(0, 1\]/,
    ],
  ])("rejects %s, naming the field", (_what, override, field, message) => {
    const plan = { ...PP2, ...override } as VllmGroupPlan;
    expect(() => vllmServeCommand(plan, 0)).toThrow(VllmPlanError);
    expect(() => vllmServeCommand(plan, 0)).toThrow(message);
    try {
      vllmServeCommand(plan, 0);
    } catch (err: unknown) {
      expect((err as VllmPlanError).field).toBe(field);
    }
  });

  it("rejects a node rank outside the group", () => {
    expect(() => vllmServeCommand(PP2, 2)).toThrow(/nodeRank: must be in \[0, 2\), got 2/);
  });
});
