export type { ClusterStateServiceOptions, ClusterTransition } from "./cluster-state/index.js";
export { ClusterState, ClusterStateService } from "./cluster-state/index.js";
export type { ControllerMetrics } from "./metrics/metrics.js";
export { CONTROLLER_METRICS, controllerMetrics } from "./metrics/metrics.js";
