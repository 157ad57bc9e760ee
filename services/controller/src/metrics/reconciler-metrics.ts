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
  }
}
