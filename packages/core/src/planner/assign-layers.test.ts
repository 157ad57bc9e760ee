import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assignLayers, type LayerRange } from "./assign-layers.js";

function expectCoversInOrder(ranges: readonly LayerRange[], numLayers: number): void {
  let next = 0;
  for (const [first, last] of ranges) {
    expect(first).toBe(next);
    expect(last).toBeGreaterThanOrEqual(first);
    next = last + 1;
  }
  expect(next).toBe(numLayers);
}

describe("assignLayers", () => {
  it("splits 126 layers over two equal stages 63/63", () => {
    expect(
      assignLayers({ numLayers: 126, stageCapacities: [1, 1], embeddingCost: 0.5, headCost: 0.5 }),
    ).toEqual([
      [0, 62],
      [63, 125],
    ]);
  });

  it("gives the middle stage more layers when the ends carry embedding and head", () => {
    expect(
      assignLayers({ numLayers: 32, stageCapacities: [1, 1, 1], embeddingCost: 1, headCost: 1 }),
    ).toEqual([
      [0, 10],
      [11, 21],
      [22, 31],
    ]);
    expect(
      assignLayers({ numLayers: 30, stageCapacities: [1, 1, 1], embeddingCost: 3, headCost: 3 }),
    ).toEqual([
      [0, 8],
      [9, 20],
      [21, 29],
    ]);
  });

  it("puts layers in proportion to capacity on heterogeneous stages", () => {
    const ranges = assignLayers({ numLayers: 90, stageCapacities: [2, 1] });
    expect(ranges).toEqual([
      [0, 59],
      [60, 89],
    ]);
  });

  it("honours per-stage caps while any stage has room", () => {
    const ranges = assignLayers({ numLayers: 20, stageCapacities: [1, 1], maxLayersPerStage: [5, 100] });
    expect(ranges).toEqual([
      [0, 4],
      [5, 19],
    ]);
  });

  it("rejects more stages than layers", () => {
    expect(() => assignLayers({ numLayers: 2, stageCapacities: [1, 1, 1] })).toThrow(
      /3 stages cannot share 2 layers/,
    );
  });

  it("covers every layer exactly once, in order, and balances within one layer of the ideal", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 16 }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (numLayers, caps, embeddingCost, headCost) => {
          fc.pre(caps.length <= numLayers);
          const ranges = assignLayers({ numLayers, stageCapacities: caps, embeddingCost, headCost });
          expect(ranges).toHaveLength(caps.length);
          expectCoversInOrder(ranges, numLayers);
          // No stage's load/capacity exceeds the fractional optimum by more than one layer's worth.
          const total = numLayers + embeddingCost + headCost;
          const capSum = caps.reduce((a, b) => a + b, 0);
          const loads = ranges.map(
            ([f, l], s) =>
              (l - f + 1 + (s === 0 ? embeddingCost : 0) + (s === caps.length - 1 ? headCost : 0)) /
              (caps[s] ?? 1),
          );
          const worst = Math.max(...loads);
          const minCap = Math.min(...caps);
          // Stages forced to hold at least one layer may exceed the ideal; otherwise within one layer.
          const floor = Math.max(
            ...ranges.map(
              (_, s) =>
                (1 + (s === 0 ? embeddingCost : 0) + (s === caps.length - 1 ? headCost : 0)) / (caps[s] ?? 1),
            ),
          );
          expect(worst).toBeLessThanOrEqual(Math.max(total / capSum + 1 / minCap, floor) + 1e-9);
        },
      ),
    );
  });
});
