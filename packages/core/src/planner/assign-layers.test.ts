import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assignLayers } from "./assign-layers.js";
import type { LayerRange } from "./layer-range.js";

function expectCoversInOrder(ranges: readonly LayerRange[], numLayers: number): void {
  let next = 0;
  for (const { first, last } of ranges) {
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
      { first: 0, last: 62 },
      { first: 63, last: 125 },
    ]);
  });

  it("evens out the load when the ends carry embedding and head: 11 + 1, 11, 10 + 1", () => {
    expect(
      assignLayers({ numLayers: 32, stageCapacities: [1, 1, 1], embeddingCost: 1, headCost: 1 }),
    ).toEqual([
      { first: 0, last: 10 },
      { first: 11, last: 21 },
      { first: 22, last: 31 },
    ]);
  });

  it("gives the middle stage more layers when the ends carry heavy embedding and head: 9, 12, 9", () => {
    expect(
      assignLayers({ numLayers: 30, stageCapacities: [1, 1, 1], embeddingCost: 3, headCost: 3 }),
    ).toEqual([
      { first: 0, last: 8 },
      { first: 9, last: 20 },
      { first: 21, last: 29 },
    ]);
  });

  it("puts layers in proportion to capacity on heterogeneous stages", () => {
    const ranges = assignLayers({ numLayers: 90, stageCapacities: [2, 1] });
    expect(ranges).toEqual([
      { first: 0, last: 59 },
      { first: 60, last: 89 },
    ]);
  });

  it("honours per-stage caps while any stage has room", () => {
    const ranges = assignLayers({ numLayers: 20, stageCapacities: [1, 1], maxLayersPerStage: [5, 100] });
    expect(ranges).toEqual([
      { first: 0, last: 4 },
      { first: 5, last: 19 },
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
            ({ first, last }, s) =>
              (last - first + 1 + (s === 0 ? embeddingCost : 0) + (s === caps.length - 1 ? headCost : 0)) /
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
