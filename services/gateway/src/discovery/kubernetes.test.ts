import type { V1EndpointSlice } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { headsFromSlices } from "./kubernetes.js";

function slice(
  deployment: string,
  replica: string,
  address: string | undefined,
  ready = true,
): V1EndpointSlice {
  return {
    addressType: "IPv4",
    metadata: {
      namespace: "prod",
      labels: {
        "strata.dev/deployment": deployment,
        "strata.dev/replica": replica,
        "strata.dev/role": "head",
      },
    },
    endpoints: address === undefined ? [] : [{ addresses: [address], conditions: { ready } }],
    ports: [{ name: "http", port: 8080 }],
  };
}

describe("headsFromSlices", () => {
  it("maps ready head slices to replicas named by the deployment's served name", () => {
    const heads = headsFromSlices(
      [slice("llama", "0", "10.0.0.1"), slice("llama", "1", "10.0.0.2"), slice("qwen", "0", "10.0.0.3")],
      new Map([["prod/llama", "llama-3.1-405b"]]),
    );
    expect(heads).toEqual([
      { id: "llama/0", model: "llama-3.1-405b", url: "http://10.0.0.1:8080" },
      { id: "llama/1", model: "llama-3.1-405b", url: "http://10.0.0.2:8080" },
      { id: "qwen/0", model: "qwen", url: "http://10.0.0.3:8080" },
    ]);
  });

  it("skips slices without a ready address or without replica labels", () => {
    const unlabeled = slice("llama", "x", "10.0.0.9");
    const empty = { ...slice("llama", "2", undefined), endpoints: null } as unknown as V1EndpointSlice;
    const heads = headsFromSlices(
      [slice("llama", "0", undefined), slice("llama", "1", "10.0.0.2", false), unlabeled, empty],
      new Map(),
    );
    expect(heads).toEqual([]);
  });
});
