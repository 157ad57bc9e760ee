import type { V1Pod } from "@kubernetes/client-node";
import { groupPods, resolvePlan } from "@strata/controller";
import { MODEL_DEPLOYMENT_API_VERSION, type ModelDeployment, modelDeploymentSpecSchema } from "@strata/core";

/** The benchmark's shape: deployments, each `replicas` groups of `stages` pods of `gpusPerPod` GPUs. */
export interface StrataPodsShape {
  readonly deployments: number;
  readonly replicas: number;
  readonly stages: number;
  readonly gpusPerPod: number;
  readonly nodesPerRack: number;
}

const GPUS_PER_NODE = 8;

/**
 * The controller's pods for every group, built by the controller's own code,
 * for creating directly (no ModelDeployment, Service, Secret or status): group
 * g goes to the g-th free slot of racks filled in order, as gang admission
 * would place it, and names that rack's nodes. Without owner references (the
 * garbage collector would delete pods whose owner does not exist).
 */
export function strataPods(
  deploymentSpec: unknown,
  o: StrataPodsShape,
  nodeNames: readonly string[],
  namespace: string,
): V1Pod[] {
  const spec = modelDeploymentSpecSchema.parse(deploymentSpec);
  const plan = resolvePlan(spec, () => {
    throw new Error("the benchmark's deployments are explicit");
  });
  const podsPerRack = o.nodesPerRack * Math.floor(GPUS_PER_NODE / o.gpusPerPod);
  const groupsPerRack = Math.floor(podsPerRack / o.stages);
  if (groupsPerRack === 0) throw new Error("--strata-pods-baseline: a group does not fit in one rack");
  const pods: V1Pod[] = [];
  for (let d = 0; d < o.deployments; d++) {
    const name = `md-${d}`;
    const md: ModelDeployment = {
      apiVersion: MODEL_DEPLOYMENT_API_VERSION,
      kind: "ModelDeployment",
      metadata: { name, namespace, uid: `baseline-${d}`, generation: 1 },
      spec: { ...spec, model: { ...spec.model, servedName: name } },
    };
    for (let replica = 0; replica < o.replicas; replica++) {
      const rack = Math.floor((d * o.replicas + replica) / groupsPerRack);
      for (const pod of groupPods(md, plan, {
        replica,
        revision: "baseline",
        domain: `rack-${rack}`,
        domainNodes: nodeNames.slice(rack * o.nodesPerRack, (rack + 1) * o.nodesPerRack),
        natsUrl: "nats://nats:4222",
      })) {
        if (pod.metadata) delete pod.metadata.ownerReferences;
        pods.push(pod);
      }
    }
  }
  return pods;
}
