import { InputError } from "@strata/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isPlacementOrNonDebugLine, parseDeviceEndpoint, parseLayerAssignment } from "./layer-report.js";
import { llamaServerArgs, offloadPlanFor } from "./llamacpp-args.js";

/**
 * llama.cpp's placement rule (src/llama-model.cpp, load_tensors), restated to
 * check that the flags we derive put every layer where the plan wants it.
 */
function llamaCppDeviceOfLayer(
  layer: number,
  numLayers: number,
  nGpuLayers: number,
  split: readonly number[],
): number {
  const iGpuStart = Math.max(numLayers + 1 - nGpuLayers, 0);
  const act = Math.min(nGpuLayers, numLayers + 1);
  if (layer < iGpuStart || layer - iGpuStart >= act) return -1; // CPU of the head
  const total = split.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  const points = split.map((s) => {
    cumulative += s;
    return Math.fround(cumulative) / Math.fround(total);
  });
  const position = Math.fround(layer - iGpuStart) / act;
  const index = points.findIndex((p) => p > position);
  return index === -1 ? split.length - 1 : index;
}

describe("offloadPlanFor", () => {
  it("puts every layer on its planned stage under llama.cpp's placement rule", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 128 }).chain((numLayers) =>
          fc.tuple(
            fc.constant(numLayers),
            numLayers === 1
              ? fc.constant<number[]>([])
              : fc.uniqueArray(fc.integer({ min: 1, max: numLayers - 1 }), {
                  maxLength: Math.min(7, numLayers - 1),
                }),
          ),
        ),
        ([numLayers, cuts]) => {
          const bounds = [0, ...[...cuts].sort((a, b) => a - b), numLayers];
          const ranges = bounds.slice(0, -1).map((first, i) => ({ first, last: (bounds[i + 1] ?? 0) - 1 }));
          const plan = offloadPlanFor(ranges, numLayers);
          for (const [stage, range] of ranges.entries()) {
            for (let layer = range.first; layer <= range.last; layer++) {
              const device = llamaCppDeviceOfLayer(layer, numLayers, plan.nGpuLayers, plan.tensorSplit);
              expect(device + 1).toBe(stage); // device -1 is the head, stage 0
            }
          }
          if (ranges.length > 1) {
            // The output layer goes with the last stage.
            const out = llamaCppDeviceOfLayer(numLayers, numLayers, plan.nGpuLayers, plan.tensorSplit);
            expect(out + 1).toBe(ranges.length - 1);
          }
        },
      ),
    );
  });

  it("runs a single stage with nothing offloaded", () => {
    expect(offloadPlanFor([{ first: 0, last: 11 }], 12)).toEqual({ nGpuLayers: 0, tensorSplit: [] });
  });

  it("rejects ranges with gaps or that do not cover the model", () => {
    expect(() =>
      offloadPlanFor(
        [
          { first: 0, last: 3 },
          { first: 5, last: 11 },
        ],
        12,
      ),
    ).toThrow(InputError);
    expect(() => offloadPlanFor([{ first: 0, last: 10 }], 12)).toThrow(InputError);
  });
});

describe("llamaServerArgs", () => {
  const base = {
    modelPath: "/models/SmolLM2-135M-Instruct.Q4_1.gguf",
    servedName: "smollm2-135m",
    host: "127.0.0.1",
    port: 8081,
    contextSize: 2048,
    rpcEndpoints: [],
    offload: { nGpuLayers: 0, tensorSplit: [] },
  };
  const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

  it("serves under the short name, with the GGUF's chat template and the contract's slots", () => {
    const args = llamaServerArgs({ ...base, maxSequences: 6 });
    expect(flag(args, "--alias")).toBe("smollm2-135m");
    expect(args).toContain("--jinja");
    expect(args).not.toContain("--chat-template");
    expect(flag(args, "--parallel")).toBe("6");
    // One KV cache for all slots, so one sequence may still fill the whole context.
    expect(args).toContain("--kv-unified");
    expect(flag(args, "--ctx-size")).toBe("2048");
  });

  it("runs llama-server's own default of 4 slots when none is given", () => {
    expect(flag(llamaServerArgs(base), "--parallel")).toBe("4");
  });
});

describe("layer report", () => {
  it("reads llama.cpp's layer assignment lines", () => {
    expect(parseLayerAssignment("load_tensors: layer   7 assigned to device RPC1, is_swa = 0")).toEqual({
      layer: 7,
      device: "RPC1",
    });
    expect(parseLayerAssignment("load_tensors: layer   0 assigned to device CPU, is_swa = 0")).toEqual({
      layer: 0,
      device: "CPU",
    });
    expect(parseLayerAssignment("load_tensors: offloaded 9/13 layers to GPU")).toBeUndefined();
    expect(
      parseDeviceEndpoint(
        "llama_prepare_model_devices: using device RPC0 (127.0.0.1:36743) (unknown id) - 24105 MiB free",
      ),
    ).toEqual({ device: "RPC0", port: 36743 });
    expect(parseDeviceEndpoint("load_tensors: offloaded 9/13 layers to GPU")).toBeUndefined();
  });

  it("keeps placement and non-debug lines, drops other debug chatter", () => {
    expect(
      isPlacementOrNonDebugLine("0.01.002.231 D load_tensors: layer   4 assigned to device RPC0, is_swa = 0"),
    ).toBe(true);
    expect(
      isPlacementOrNonDebugLine(
        "0.00.716.361 I llama_prepare_model_devices: using device RPC0 (127.0.0.1:1) - 1 MiB free",
      ),
    ).toBe(true);
    expect(isPlacementOrNonDebugLine("0.02.100.000 D srv update_slots: posting NEXT_RESPONSE")).toBe(false);
    expect(isPlacementOrNonDebugLine("0.02.100.000 W srv something odd")).toBe(true);
    expect(isPlacementOrNonDebugLine("Starting RPC server v7.0.0")).toBe(true);
  });
});
