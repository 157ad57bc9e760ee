import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { httpStatus, KubeApi } from "@strata/controller";
import { LABELS } from "@strata/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlane, createTestNamespace, startControlPlane } from "../k8s/index.js";

// The controller's own create path (plain JSON, not the generated client's
// typed serializer) against a real kube-apiserver.

let cp: ControlPlane;
let admin: KubeConfig;

beforeAll(async () => {
  cp = await startControlPlane();
  admin = cp.kubeConfig();
});

afterAll(async () => {
  await cp?.stop();
});

describe("the controller's API client", () => {
  it("creates a pod as plain JSON, takes AlreadyExists as done, and rejects a refused create with the server's reason", async () => {
    const ns = await createTestNamespace(admin, "kube-api");
    const api = new KubeApi(admin, () => {});
    const pod: V1Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "plain", namespace: ns, labels: { [LABELS.deployment]: "x" } },
      spec: {
        containers: [{ name: "w", image: "strata/none", env: [{ name: "A", value: "1" }] }],
        readinessGates: [{ conditionType: "strata.dev/ready" }],
      },
    };
    await api.createPod(pod);
    await api.createPod(pod);
    const stored = await admin.makeApiClient(CoreV1Api).readNamespacedPod({ name: "plain", namespace: ns });
    expect(stored.metadata?.labels?.[LABELS.deployment]).toBe("x");
    expect(stored.spec?.containers[0]?.env).toEqual([{ name: "A", value: "1" }]);
    expect(stored.spec?.readinessGates).toEqual([{ conditionType: "strata.dev/ready" }]);

    const refused = async (p: V1Pod) =>
      await api.createPod(p).then(
        () => undefined,
        (e: unknown) => e,
      );
    const missing = await refused({ ...pod, metadata: { ...pod.metadata, namespace: `${ns}-gone` } });
    expect(httpStatus(missing)).toBe(404);
    const status = JSON.parse(String((missing as { body?: unknown }).body)) as {
      reason?: string;
      message?: string;
    };
    expect(status.reason).toBe("NotFound");
    expect(status.message).toBe(`namespaces "${ns}-gone" not found`);
    const invalid = await refused({ ...pod, metadata: { ...pod.metadata, name: "Not_A_Name" } });
    expect(httpStatus(invalid)).toBe(422);
    expect((invalid as Error).message).toContain("creating pods/Not_A_Name: HTTP 422");
  });
});
