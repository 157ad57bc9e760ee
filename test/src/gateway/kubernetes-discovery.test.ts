import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Controller } from "@strata/controller";
import { LABELS } from "@strata/core";
import { Gateway, KubernetesReplicaSource, resolveGatewayConfig } from "@strata/gateway";
import { silentLogger } from "@strata/runtime";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deployments, installChartCrdAndRole, smallSpec, startController } from "../controller/fixture.js";
import {
  type ControlPlane,
  createGpuNodePool,
  createTestNamespace,
  NODE_LABELS,
  pollUntil,
  startControlPlane,
} from "../k8s/index.js";

// The gateway's Kubernetes discovery on the real control plane: the real
// controller turns a ModelDeployment into pods (kwok "runs" them: nothing
// answers inside) and its headless Service; the EndpointSlice controller publishes
// their addresses; the gateway lists the served name with the heads' pod IPs
// as its replicas, and follows scale-down and deletion without a restart.
// Requests reaching a head through Kubernetes discovery are covered on real
// nodes by the cluster end-to-end test (npm run e2e:cluster).

const WAIT_MS = 60_000;

let cp: ControlPlane;
let admin: KubeConfig;
let controller: Controller | undefined;
let gateway: Gateway | undefined;

beforeAll(async () => {
  cp = await startControlPlane();
  admin = cp.kubeConfig();
  await installChartCrdAndRole(admin);
});

afterAll(async () => {
  await gateway?.stop();
  await controller?.stop();
  await cp?.stop();
});

describe("gateway discovery from Kubernetes", () => {
  it("discovers each replica's head pod under the served name and follows scale-down and deletion", async () => {
    const ns = await createTestNamespace(admin, "gw-discovery");
    await createGpuNodePool(admin, {
      name: ns,
      count: 2,
      gpusPerNode: 8,
      gpuProduct: "NVIDIA-H100-80GB-HBM3",
      labels: { rack: () => `${ns}-a` },
    });
    ({ controller } = await startController(admin, ns));
    const mds = new Deployments(admin, ns);
    const spec = smallSpec({ replicas: 2 });
    await mds.create("small", {
      ...spec,
      gpu: { ...spec.gpu, type: "h100-sxm-80g", nodeSelector: { [NODE_LABELS.pool]: ns } },
    });

    gateway = new Gateway({
      config: resolveGatewayConfig({ port: 0 }),
      registry: new Registry(),
      sources: [
        new KubernetesReplicaSource(admin, ns, (err) => {
          throw err;
        }),
      ],
      log: silentLogger,
    });
    const url = await gateway.start();
    const gw = gateway;

    const core = admin.makeApiClient(CoreV1Api);
    const headIps = async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.stage}=0` });
      return new Map(
        pods.items.map((p) => [`small/${p.metadata?.labels?.[LABELS.replica]}`, p.status?.podIP]),
      );
    };
    await pollUntil("both heads discovered", WAIT_MS, async () => gw.table.forModel("small").length === 2);
    const ips = await headIps();
    for (const r of gw.table.forModel("small")) {
      expect(r.endpoint.url).toBe(`http://${ips.get(r.endpoint.id)}:8080`);
    }
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(["small"]);

    await mds.patchSpec("small", { replicas: 1 });
    await pollUntil("scale-down seen", WAIT_MS, async () => gw.table.forModel("small").length === 1);
    expect(gw.table.forModel("small").map((r) => r.endpoint.id)).toEqual(["small/0"]);

    await mds.delete("small");
    await pollUntil("deletion seen", WAIT_MS, async () => gw.table.all().length === 0);
    const unknown = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "small", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(unknown.status).toBe(404);
  }, 180_000);
});
