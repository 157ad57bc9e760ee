/**
 * KWOK Stage objects the harness loads with `kwok --config`: they play the
 * kubelet for fake nodes. Written for Strata after the stage API and the
 * template functions (Now, Quote, NodeConditions, NodeIPWith, PodIPWith, …)
 * documented at https://kwok.sigs.k8s.io/docs/user/stages-configuration/ and
 * the default stages in https://github.com/kubernetes-sigs/kwok/tree/v0.8.0/kustomize/stage.
 *
 * Lifecycle they implement:
 * - Node: becomes Ready, unless it carries NODE_NOT_READY_LABEL, which turns
 *   its Ready condition False (removing the label makes it Ready again).
 *   Heartbeats come from node leases that kwok renews (--node-lease-duration-seconds).
 * - Pod bound to a fake node: becomes Running and Ready; with POD_FAIL_LABEL it
 *   becomes Failed, its containers terminated with exit code 1 (reason and
 *   message from the annotations below); once deleted gracefully, kwok removes it
 *   as a kubelet would.
 */

/** A node with this label set to "true" reports Ready=False. */
export const NODE_NOT_READY_LABEL = "strata.dev/kwok-node-not-ready";
/** A pod with this label set to "true" goes to phase Failed. */
export const POD_FAIL_LABEL = "strata.dev/kwok-pod-fail";
export const POD_FAIL_REASON_ANNOTATION = "strata.dev/kwok-fail-reason";
export const POD_FAIL_MESSAGE_ANNOTATION = "strata.dev/kwok-fail-message";
/** Reason on the Ready condition of a node made NotReady through NODE_NOT_READY_LABEL. */
export const NODE_NOT_READY_REASON = "KwokNodeNotReady";

const readyStatus = '.status.conditions.[] | select( .type == "Ready" ) | .status';

const nodeReady = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: strata-node-ready
spec:
  resourceRef: { apiGroup: v1, kind: Node }
  selector:
    matchExpressions:
    - { key: '${readyStatus}', operator: NotIn, values: ['True'] }
    - { key: '.metadata.labels["${NODE_NOT_READY_LABEL}"]', operator: DoesNotExist }
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
      addresses:
      - { type: InternalIP, address: {{ NodeIP | Quote }} }
      - { type: Hostname, address: {{ .metadata.name | Quote }} }
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
        kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
        containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
        kernelVersion: {{ printf "kwok-%s" Version | Quote }}
      phase: Running
`;

const nodeNotReady = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: strata-node-not-ready
spec:
  resourceRef: { apiGroup: v1, kind: Node }
  selector:
    matchExpressions:
    - { key: '.metadata.labels["${NODE_NOT_READY_LABEL}"]', operator: In, values: ['true'] }
    - { key: '${readyStatus}', operator: NotIn, values: ['False'] }
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      {{ if eq .type "Ready" }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
        message: "node made NotReady by the test harness"
        reason: ${NODE_NOT_READY_REASON}
        status: "False"
        type: Ready
      {{ else }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
      {{ end }}
`;

const podRunning = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: strata-pod-running
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: DoesNotExist }
    - { key: '.status.phase', operator: In, values: ['Pending'] }
    - { key: '${readyStatus}', operator: NotIn, values: ['True'] }
    - { key: '.metadata.labels["${POD_FAIL_LABEL}"]', operator: DoesNotExist }
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }} }
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
`;

const podFailed = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: strata-pod-failed
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: DoesNotExist }
    - { key: '.metadata.labels["${POD_FAIL_LABEL}"]', operator: In, values: ['true'] }
    - { key: '.status.phase', operator: In, values: ['Pending', 'Running'] }
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $annotations := or .metadata.annotations dict }}
      {{ $reason := or ( index $annotations "${POD_FAIL_REASON_ANNOTATION}" ) "Error" }}
      {{ $message := or ( index $annotations "${POD_FAIL_MESSAGE_ANNOTATION}" ) "container failed" }}
      conditions:
      - { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: Ready, status: "False", reason: PodFailed, lastTransitionTime: {{ $now | Quote }} }
      - { type: ContainersReady, status: "False", reason: PodFailed, lastTransitionTime: {{ $now | Quote }} }
      - { type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }} }
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          terminated:
            exitCode: 1
            reason: {{ $reason | Quote }}
            message: {{ $message | Quote }}
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
      phase: Failed
      reason: {{ $reason | Quote }}
      message: {{ $message | Quote }}
`;

/** A pod deleted gracefully is removed at once, as the kubelet does after its containers stop. */
const podDelete = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: strata-pod-delete
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: Exists }
  next:
    delete: true
`;

/** All stages as one multi-document YAML file for `kwok --config`. */
export function kwokStagesYaml(): string {
  return [nodeReady, nodeNotReady, podRunning, podFailed, podDelete].join("---\n");
}
