import { describe, expect, it } from "vitest";
import { cpuBindPerNode } from "./cpu-bind.js";

describe("cores per vLLM rank", () => {
  it.each([
    [2, 2, 1, ["0", "1"]],
    [2, 1, 2, ["0|1"]],
    [4, 2, 1, ["0-1", "2-3"]],
    [8, 2, 2, ["0-1|2-3", "4-5|6-7"]],
    [5, 2, 1, ["0-1", "2-3"]],
  ])("%i cores, %i nodes of %i ranks → %j (one core or more each)", (cores, nodes, ranks, expected) => {
    expect(cpuBindPerNode(cores, nodes, ranks)).toEqual(expected);
  });

  it.each([
    [2, 3, 1, ["0", "1", "0"]],
    [2, 2, 2, ["0|1", "0|1"]],
    [1, 2, 1, ["0", "0"]],
  ])("%i cores, %i nodes of %i ranks → %j (ranks share cores)", (cores, nodes, ranks, expected) => {
    expect(cpuBindPerNode(cores, nodes, ranks)).toEqual(expected);
  });
});
