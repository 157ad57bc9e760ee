export type { ClusterStateOptions, ClusterTransition } from "./cluster-state.js";
export { ClusterState } from "./cluster-state.js";
export type { ClusterStateServiceOptions } from "./cluster-state-service.js";
export { ClusterStateService } from "./cluster-state-service.js";
