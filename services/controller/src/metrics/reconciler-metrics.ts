import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { CONTROLLER_METRICS } from "./metrics.js";

/** Reconcile results, as the `result` label of strata_controller_reconciles_total. */
export const RECONCILE_RESULTS = { ok: "ok", requeue: "requeue", error: "error" } as const;

/** The reconciler's metrics (names in CONTROLLER_METRICS). */
export class ReconcilerMetrics {
  readonly reconciles: Counter<"result">;
  readonly reconcileSeconds: Histogram;
  readonly queueDepth: Gauge;
  readonly apiRequests: Counter<"verb" | "resource">;
  readonly isLeader: Gauge;
  /** Labels: reason (RECREATE_REASONS: failed, hung, silent, node_not_ready, stray_drain). */
  readonly groupRecreations: Counter<"reason">;
  /** Labels: result (DRAIN_RESULTS: drained, timeout, no_worker, disabled). */
  readonly drains: Counter<"result">;
  readonly drainSeconds: Histogram;
  readonly natsConnected: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconciles = new Counter({
      name: CONTROLLER_METRICS.reconciles,
      help: "Reconciles of a ModelDeployment key, by result (ok, requeue, error)",
      labelNames: ["result"],
      registers,
    });
    this.reconcileSeconds = new Histogram({
      name: CONTROLLER_METRICS.reconcileDuration,
      help: "Time to reconcile one ModelDeployment key",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.queueDepth = new Gauge({
      name: CONTROLLER_METRICS.queueDepth,
      help: "Keys waiting in the work queue",
      registers,
    });
    this.apiRequests = new Counter({
      name: CONTROLLER_METRICS.apiRequests,
      help: "Requests to the Kubernetes API server, by verb and resource",
      labelNames: ["verb", "resource"],
      registers,
    });
    this.isLeader = new Gauge({
      name: CONTROLLER_METRICS.isLeader,
      help: "1 while this process holds the leader lease",
      registers,
    });
    this.groupRecreations = new Counter({
      name: CONTROLLER_METRICS.groupRecreations,
      help: "Groups deleted to be recreated whole, by reason (failed, hung, silent, node_not_ready, stray_drain)",
      labelNames: ["reason"],
      registers,
    });
    this.drains = new Counter({
      name: CONTROLLER_METRICS.drains,
      help: "Groups whose pods were deleted for a rollout or scale-down, by how the drain ended",
      labelNames: ["result"],
      registers,
    });
    this.drainSeconds = new Histogram({
      name: CONTROLLER_METRICS.drainDuration,
      help: "Time from asking a group's head to drain until its pods were deleted",
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.natsConnected = new Gauge({
      name: CONTROLLER_METRICS.natsConnected,
      help: "1 while the controller is connected to NATS",
      registers,
    });
  }
}
