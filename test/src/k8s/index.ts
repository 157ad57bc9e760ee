// The real Kubernetes control plane for Strata's tests: etcd, kube-apiserver,
// kube-scheduler, kube-controller-manager and kwok on loopback, fake GPU nodes,
// failure injection and least-privilege kubeconfigs; and real nodes (containerd,
// kubelet, kube-proxy, CoreDNS) that run pods. See README "Kubernetes test harness".
export {
  type ComponentInfo,
  type ComponentName,
  type ControlPlane,
  type ControlPlaneOptions,
  KWOK_NODE_ANNOTATION,
  KWOK_NODE_ANNOTATION_VALUE,
  startControlPlane,
} from "./control-plane.js";
export {
  NODE_NOT_READY_LABEL,
  NODE_NOT_READY_REASON,
  POD_FAIL_LABEL,
  POD_FAIL_MESSAGE_ANNOTATION,
  POD_FAIL_REASON_ANNOTATION,
} from "./kwok-stages.js";
export { createTestNamespace } from "./namespaces.js";
export {
  createGpuNodePool,
  GPU_RESOURCE,
  type GpuNodePool,
  gpuPoolLabels,
  NODE_LABELS,
  type PerNode,
  setNodeNotReady,
  setNodeReady,
} from "./nodes.js";
export { type FailPodOptions, failPod } from "./pods.js";
export { PollTimeoutError, pollUntil } from "./poll.js";
export { ComponentError } from "./processes.js";
export {
  DEFAULT_REAL_POOL,
  type RealCluster,
  type RealClusterOptions,
  type RealNode,
  type RealNodePool,
  startRealCluster,
} from "./real-cluster.js";
export { type ServiceAccountKubeconfigOptions, serviceAccountKubeconfig } from "./service-account.js";
export {
  COREDNS_VERSION,
  ETCD_VERSION,
  HELM_VERSION,
  type K8sBinaries,
  KUBERNETES_VERSION,
  KWOK_VERSION,
  k8sBinaries,
  promtoolBinary,
} from "./versions.js";
