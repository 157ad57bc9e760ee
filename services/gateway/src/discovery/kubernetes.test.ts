import type { V1Endpoint, V1EndpointSlice } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { headsFromSlices } from "./kubernetes.js";

const endpoint = (pod: string, address: string, conditions: V1Endpoint["conditions"] = {}): V1Endpoint => ({
  addresses: [address],
  // A group Service publishes addresses before pods are ready: `ready` is always true there.
  conditions: { ready: true, serving: true, terminating: false, ...conditions },
  targetRef: { kind: "Pod", name: pod },
});

/** A slice of a deployment's headless Service; `replica` makes it a group Service of an earlier Strata. */
function slice(deployment: string, endpoints: V1Endpoint[], replica?: string): V1EndpointSlice {
  return {
    addressType: "IPv4",
    metadata: {
      namespace: "prod",
      labels: { "strata.dev/deployment": deployment, ...(replica ? { "strata.dev/replica": replica } : {}) },
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
        slice("llama", [endpoint("llama-0-1", "10.0.1.1"), endpoint("llama-0-0", "10.0.0.1")]),
        // A Service with many endpoints has more than one slice.
        slice("llama", [endpoint("llama-1-1", "10.0.1.2"), endpoint("llama-12-0", "10.0.0.2")]),
        slice("qwen", [endpoint("qwen-0-0", "10.0.0.3")]),
      ],
      new Map([["prod/llama", "llama-3.1-405b"]]),
    );
    expect(heads).toEqual([
      { id: "llama/0", model: "llama-3.1-405b", url: "http://10.0.0.1:8080" },
      { id: "llama/12", model: "llama-3.1-405b", url: "http://10.0.0.2:8080" },
      { id: "qwen/0", model: "qwen", url: "http://10.0.0.3:8080" },
    ]);
  });

  it("skips heads that are not serving or are terminating, stages, pods of other names and empty slices", () => {
    const empty = { ...slice("llama", []), endpoints: null } as unknown as V1EndpointSlice;
    const heads = headsFromSlices(
      [
        slice("llama", [
          endpoint("llama-0-0", "10.0.0.1", { serving: false }),
          endpoint("llama-1-0", "10.0.0.2", { serving: true, terminating: true }),
          endpoint("llama-2-1", "10.0.0.3"),
          endpoint("llama-x-0", "10.0.0.4"),
          endpoint("llama-3-0-0", "10.0.0.5"),
          endpoint("qwen-4-0", "10.0.0.6"),
        ]),
        empty,
      ],
      new Map(),
    );
    expect(heads).toEqual([]);
  });

  it("reads a group Service of an earlier Strata (tunnel port only) at the workers' http port, once next to the new one", () => {
    const old = {
      ...slice("llama", [endpoint("llama-0-0", "10.0.0.1")], "0"),
      ports: [{ name: "tunnel", port: 7070 }],
    };
    expect(headsFromSlices([old], new Map())).toEqual([
      { id: "llama/0", model: "llama", url: "http://10.0.0.1:8080" },
    ]);
    const both = headsFromSlices([old, slice("llama", [endpoint("llama-0-0", "10.0.0.1")])], new Map());
    expect(both).toEqual([{ id: "llama/0", model: "llama", url: "http://10.0.0.1:8080" }]);
  });
});
