import { describe, expect, it } from "vitest";
import { staleServices } from "./owned-objects.js";

describe("staleServices", () => {
  it("keeps the deployment's Service, and a group Service of an earlier Strata while a pod names it", () => {
    const services = ["llama-stages", "llama-0", "llama-0-head", "llama-1", "llama-1-head", "llama-2"];
    // Group 0's pods are from an earlier Strata; group 1 was recreated under the new Service; group 2 is gone.
    const subdomains = ["llama-0", "llama-0", "llama-stages", "llama-stages", undefined];
    expect(staleServices("llama", services, subdomains)).toEqual(["llama-1", "llama-1-head", "llama-2"]);
  });

  it("leaves alone names that are not a group Service of this deployment", () => {
    expect(staleServices("llama", ["llama-stages", "llama-x", "llama-0-tunnel", "qwen-0"], [])).toEqual([]);
  });
});
