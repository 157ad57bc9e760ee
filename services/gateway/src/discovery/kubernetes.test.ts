import type { V1Endpoint, V1EndpointSlice } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { headsFromSlices } from "./kubernetes.js";

const endpoint = (pod: string, address: string, conditions: V1Endpoint["conditions"] = {}): V1Endpoint => ({
  addresses: [address],
  // A group Service publishes addresses before pods are ready: `ready` is always true there.
  conditions: { ready: true, serving: true, terminating: false, ...conditions },
  targetRef: { kind: "Pod", name: pod },
});

function slice(deployment: string, replica: string, endpoints: V1Endpoint[]): V1EndpointSlice {
  return {
    addressType: "IPv4",
    metadata: {
      namespace: "prod",
      labels: { "strata.dev/deployment": deployment, "strata.dev/replica": replica },
    },
    endpoints,
    ports: [
      { name: "tunnel", port: 7070 },
      { name: "http", port: 8080 },
    ],
  };
}

describe("headsFromSlices", () => {
  it("maps each group's serving head (stage 0) to a replica named by the deployment's served name", () => {
    const heads = headsFromSlices(
      [
        slice("llama", "0", [endpoint("llama-0-1", "10.0.1.1"), endpoint("llama-0-0", "10.0.0.1")]),
        slice("llama", "1", [endpoint("llama-1-0", "10.0.0.2")]),
        slice("qwen", "0", [endpoint("qwen-0-0", "10.0.0.3")]),
      ],
      new Map([["prod/llama", "llama-3.1-405b"]]),
    );
    expect(heads).toEqual([
      { id: "llama/0", model: "llama-3.1-405b", url: "http://10.0.0.1:8080" },
      { id: "llama/1", model: "llama-3.1-405b", url: "http://10.0.0.2:8080" },
      { id: "qwen/0", model: "qwen", url: "http://10.0.0.3:8080" },
    ]);
  });

  it("skips heads that are not serving or are terminating, stages, and slices without replica labels", () => {
    const unlabeled = slice("llama", "x", [endpoint("llama-x-0", "10.0.0.9")]);
    const empty = { ...slice("llama", "4", []), endpoints: null } as unknown as V1EndpointSlice;
    const heads = headsFromSlices(
      [
        slice("llama", "0", [endpoint("llama-0-0", "10.0.0.1", { serving: false })]),
        slice("llama", "1", [endpoint("llama-1-0", "10.0.0.2", { serving: true, terminating: true })]),
        slice("llama", "2", [endpoint("llama-2-1", "10.0.0.3")]),
        unlabeled,
        empty,
      ],
      new Map(),
    );
    expect(heads).toEqual([]);
  });

  it("reads a group Service of an earlier Strata (tunnel port only) at the workers' http port", () => {
    const old = {
      ...slice("llama", "0", [endpoint("llama-0-0", "10.0.0.1")]),
      ports: [{ name: "tunnel", port: 7070 }],
    };
    expect(headsFromSlices([old], new Map())).toEqual([
      { id: "llama/0", model: "llama", url: "http://10.0.0.1:8080" },
    ]);
  });
});
