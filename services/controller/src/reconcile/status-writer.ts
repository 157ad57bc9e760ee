/**
 * Writes a ModelDeployment's status, and remembers what it wrote until the
 * watch shows it, so the next pass starts from the controller's own write.
 */
import type { ModelDeployment, ModelDeploymentStatus } from "@strata/core";
import type { KubeApi } from "../kube/api.js";
import type { Clock } from "../kube/workqueue.js";
import { type ConditionInput, mergeConditions, statusFingerprint } from "./status.js";

/** A status as a pass computes it: conditions as inputs, merged with the stored ones on write. */
export type StatusDraft = Omit<ModelDeploymentStatus, "conditions" | "observedGeneration"> & {
  conditionsInput: ConditionInput[];
};

export class StatusWriter {
  /**
   * The last status this controller wrote per deployment, with the version it
   * was written over, until the cache shows the write. Without it a pass that
   * runs before the watch delivers the write starts from the old version,
   * and its status write fails with a conflict and a requeue.
   */
  private readonly written = new Map<string, { over: string; md: ModelDeployment }>();

  constructor(
    private readonly api: Pick<KubeApi, "replaceStatus">,
    private readonly clock: Clock,
  ) {}

  /** The cached deployment, or what this controller wrote over that very version. */
  freshest(key: string, cached: ModelDeployment | undefined): ModelDeployment | undefined {
    const ours = this.written.get(key);
    if (cached && ours && cached.metadata.resourceVersion === ours.over) return ours.md;
    this.written.delete(key);
    return cached;
  }

  /** Status is written last, and only when it changed; a conflict propagates and requeues the key. */
  async write(md: ModelDeployment, draft: StatusDraft): Promise<void> {
    const { conditionsInput, ...rest } = draft;
    const status: ModelDeploymentStatus = {
      observedGeneration: md.metadata.generation,
      ...rest,
      conditions: mergeConditions(
        md.status?.conditions,
        conditionsInput,
        new Date(this.clock.now()).toISOString(),
        md.metadata.generation,
      ),
    };
    if (statusFingerprint(status) === statusFingerprint(md.status)) return;
    const stored = await this.api.replaceStatus(md, status);
    const over = md.metadata.resourceVersion;
    if (over && stored.metadata?.resourceVersion) {
      this.written.set(`${md.metadata.namespace}/${md.metadata.name}`, { over, md: stored });
    }
  }
}

/** What a status keeps when a pass cannot plan: everything but the conditions. */
export function carriedStatus(md: ModelDeployment): Omit<StatusDraft, "conditionsInput"> {
  const s = md.status;
  return {
    ...(s?.plan ? { plan: s.plan } : {}),
    ...(s?.revision ? { revision: s.revision } : {}),
    replicas: s?.replicas ?? 0,
    readyReplicas: s?.readyReplicas ?? 0,
    updatedReplicas: s?.updatedReplicas ?? 0,
    ...(s?.selector ? { selector: s.selector } : {}),
    ...(s?.groups ? { groups: s.groups } : {}),
  };
}
