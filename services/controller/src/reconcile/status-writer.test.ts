import type { ModelDeployment, ModelDeploymentStatus } from "@strata/core";
import { describe, expect, it } from "vitest";
import type { Clock } from "../kube/workqueue.js";
import { StatusWriter } from "./status-writer.js";

const clock: Clock = { now: () => Date.parse("2026-12-01T06:00:00Z"), setTimeout, clearTimeout };
const md = (resourceVersion: string, status?: ModelDeploymentStatus) =>
  ({
    metadata: { name: "llama", namespace: "prod", generation: 3, resourceVersion },
    status,
  }) as ModelDeployment;
const draft = {
  replicas: 1,
  readyReplicas: 0,
  updatedReplicas: 0,
  conditionsInput: [
    { type: "Available" as const, status: "False" as const, reason: "GroupsUnavailable", message: "0 of 1" },
  ],
};

describe("StatusWriter", () => {
  it("writes a changed status once, and hands its own write back until the cache moves past that version", async () => {
    const writes: ModelDeploymentStatus[] = [];
    const writer = new StatusWriter(
      {
        replaceStatus: async (m, status) => {
          writes.push(status);
          return { ...m, metadata: { ...m.metadata, resourceVersion: "11" }, status };
        },
      },
      clock,
    );
    await writer.write(md("10"), draft);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ observedGeneration: 3, replicas: 1 });
    expect(writes[0]?.conditions?.[0]).toMatchObject({
      type: "Available",
      lastTransitionTime: "2026-12-01T06:00:00.000Z",
    });

    // The watch has not delivered the write yet: the next pass starts from it, not from version 10.
    const next = writer.freshest("prod/llama", md("10"));
    expect(next?.metadata.resourceVersion).toBe("11");
    // The same status again: nothing to write.
    await writer.write(next as ModelDeployment, draft);
    expect(writes).toHaveLength(1);
    // The cache moved on (our write or a later one): it wins, and the remembered write is dropped.
    expect(writer.freshest("prod/llama", md("12"))?.metadata.resourceVersion).toBe("12");
    expect(writer.freshest("prod/llama", md("10"))?.metadata.resourceVersion).toBe("10");
  });
});
