export { CONTROLLER_RBAC_RULES, type PolicyRule } from "./chart/rbac.js";
export { renderGeneratedChartFiles } from "./chart/render.js";
export { type ChartValues, chartValuesSchema } from "./chart/values-schema.js";
export type { ClusterStateServiceOptions, ClusterTransition } from "./cluster-state/index.js";
export { ClusterState, ClusterStateService } from "./cluster-state/index.js";
export {
  type ControllerConfig,
  type ControllerConfigInput,
  DEFAULTS,
  resolveControllerConfig,
} from "./config.js";
export { Controller, type ControllerDeps } from "./controller.js";
export { type GroupContext, groupPods } from "./groups/desired.js";
export { podName, tunnelSecretName } from "./groups/names.js";
export { httpStatus, KubeApi } from "./kube/api.js";
export { loadKubeConfig } from "./kube/kubeconfig.js";
export {
  type LocalClusterOptions,
  type LocalRpcCache,
  type LocalWorker,
  type RunningCluster,
  startLocalCluster,
  threadsPerStage,
} from "./local/cluster.js";
export {
  type LocalStateKeeper,
  type LocalStateKeeperOptions,
  startLocalStateKeeper,
} from "./local/state-keeper.js";
export type { LocalVllmOptions } from "./local/vllm-cluster.js";
export {
  type ReadyReport,
  WorkerProcess,
  type WorkerProcessOptions,
  WorkerStartError,
} from "./local/worker-process.js";
export type { ControllerMetrics } from "./metrics/metrics.js";
export { CONTROLLER_METRICS, controllerMetrics } from "./metrics/metrics.js";
export { RECONCILE_RESULTS, ReconcilerMetrics } from "./metrics/reconciler-metrics.js";
export { planOneReplica } from "./plan/auto.js";
export { type AutoPlanner, PlanError, resolvePlan } from "./plan/resolve-plan.js";
export { makeTunnelTls, type TunnelTlsMaterial } from "./reconcile/tunnel-tls.js";
