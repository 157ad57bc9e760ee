import { createHash } from "node:crypto";
import type { ModelDeploymentSpec, PlanStatus } from "@strata/core";

/**
 * The revision of a deployment: a short hash of everything a worker pod is
 * built from (model, engine, dtype, plan, GPU placement, images, resources,
 * workload). Replicas, rollout settings and the status are left out, so
 * scaling never restarts a group, while any change a pod would see rolls
 * the groups to the new revision.
 */
export function revisionHash(spec: ModelDeploymentSpec, plan: PlanStatus): string {
  const { replicas: _replicas, rollout: _rollout, ...podFacing } = spec;
  // ep = 1 (no expert parallelism) hashes as before ep existed, so dense deployments keep their revision.
  const { summary: _summary, ep, ...rest } = plan;
  const planFacts = ep > 1 ? { ...rest, ep } : rest;
  return createHash("sha256")
    .update(canonicalJson({ spec: podFacing, plan: planFacts }))
    .digest("hex")
    .slice(0, 10);
}

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
