import { MODEL_DEPLOYMENT_API_VERSION, MODEL_DEPLOYMENT_KIND, type ModelDeployment } from "@strata/core";
import type { Logger } from "@strata/runtime";
import type { KubeApi } from "../kube/api.js";
import type { Clock } from "../kube/workqueue.js";

export const EVENT_SOURCE = "strata-controller";

/** Records Kubernetes events on a ModelDeployment; best effort, never fails a reconcile. */
export interface EventRecorder {
  normal(md: ModelDeployment, reason: string, message: string): void;
  warning(md: ModelDeployment, reason: string, message: string): void;
}

export class KubeEventRecorder implements EventRecorder {
  constructor(
    private readonly api: KubeApi,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  normal(md: ModelDeployment, reason: string, message: string): void {
    this.record(md, "Normal", reason, message);
  }

  warning(md: ModelDeployment, reason: string, message: string): void {
    this.record(md, "Warning", reason, message);
  }

  private record(md: ModelDeployment, type: string, reason: string, message: string): void {
    const now = new Date(this.clock.now()).toISOString();
    const { namespace, name, uid } = md.metadata;
    this.log.info("event", { deployment: `${namespace}/${name}`, type, reason, message });
    this.api
      .createEvent(namespace, {
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: {
          apiVersion: MODEL_DEPLOYMENT_API_VERSION,
          kind: MODEL_DEPLOYMENT_KIND,
          name,
          namespace,
          uid,
        },
        type,
        reason,
        message,
        source: { component: EVENT_SOURCE },
        reportingComponent: EVENT_SOURCE,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch((err: unknown) => this.log.warn("event not recorded", { reason, error: String(err) }));
  }
}
