/**
 * The controller's metrics: names are the contract (dashboards and alerts use
 * them), so they are constants here and nowhere else. Gauges read the cluster
 * state at scrape time instead of being pushed on every change.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { ClusterState } from "../cluster-state/cluster-state.js";

export const CONTROLLER_METRICS = {
  // The cluster state (heartbeats and lifecycle events).
  stages: "strata_controller_stages",
  stagesLost: "strata_controller_stages_lost",
  replicasAvailable: "strata_controller_replicas_available",
  heartbeatsReceived: "strata_controller_heartbeats_received_total",
  stageTransitions: "strata_controller_stage_transitions_total",
  // The reconciler, its work queue, API client and leader election.
  reconciles: "strata_controller_reconciles_total",
  reconcileDuration: "strata_controller_reconcile_duration_seconds",
  queueDepth: "strata_controller_workqueue_depth",
  apiRequests: "strata_controller_api_requests_total",
  isLeader: "strata_controller_is_leader",
  // Acting on what workers report: hung groups, lost nodes, drains.
  groupRecreations: "strata_controller_group_recreations_total",
  drains: "strata_controller_drains_total",
  drainDuration: "strata_controller_drain_duration_seconds",
  natsConnected: "strata_controller_nats_connected",
} as const;

export interface ControllerMetrics {
  readonly heartbeatsReceived: Counter;
  /** Labels: transition ("stage-lost", "stage-recovered", "replica-available", "replica-unavailable"). */
  readonly stageTransitions: Counter<"transition">;
}

export function controllerMetrics(registry: Registry, state: ClusterState): ControllerMetrics {
  const registers = [registry];
  new Gauge({
    name: CONTROLLER_METRICS.stages,
    help: "Pipeline stages known to the controller, by deployment and state.",
    labelNames: ["deployment", "state"],
    registers,
    collect() {
      this.reset();
      for (const d of state.snapshot("metrics").deployments) {
        for (const r of d.replicas)
          for (const s of r.stages) this.inc({ deployment: d.deployment, state: s.state });
      }
    },
  });
  new Gauge({
    name: CONTROLLER_METRICS.stagesLost,
    help: "Pipeline stages whose heartbeats stopped, by deployment.",
    labelNames: ["deployment"],
    registers,
    collect() {
      this.reset();
      for (const d of state.snapshot("metrics").deployments) {
        const lost = d.replicas.flatMap((r) => r.stages).filter((s) => s.lost).length;
        this.set({ deployment: d.deployment }, lost);
      }
    },
  });
  new Gauge({
    name: CONTROLLER_METRICS.replicasAvailable,
    help: "Replicas whose every stage is ready and heard from, by deployment.",
    labelNames: ["deployment"],
    registers,
    collect() {
      this.reset();
      for (const d of state.snapshot("metrics").deployments) {
        this.set({ deployment: d.deployment }, d.replicas.filter((r) => r.available).length);
      }
    },
  });
  return {
    heartbeatsReceived: new Counter({
      name: CONTROLLER_METRICS.heartbeatsReceived,
      help: "Valid worker heartbeats received.",
      registers,
    }),
    stageTransitions: new Counter({
      name: CONTROLLER_METRICS.stageTransitions,
      help: "Stage and replica availability changes seen by the controller.",
      labelNames: ["transition"],
      registers,
    }),
  };
}
