/**
 * The exact permissions the controller uses, one rule per resource. The
 * chart's ClusterRole reads these rules from a file generated from this list,
 * and the integration tests bind the same file's rules to the ServiceAccount
 * they run the controller as, so a missing verb fails a test, not a cluster.
 */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

export const CONTROLLER_RBAC_RULES: readonly PolicyRule[] = [
  { apiGroups: ["strata.dev"], resources: ["modeldeployments"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["strata.dev"], resources: ["modeldeployments/status"], verbs: ["get", "update", "patch"] },
  // Owner references with blockOwnerDeletion need update on the owner's finalizers.
  { apiGroups: ["strata.dev"], resources: ["modeldeployments/finalizers"], verbs: ["update"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "delete"] },
  { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch", "create", "update", "delete"] },
  // The tunnel-token Secret is read by name and created once; the controller never lists Secrets.
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "update"] },
  { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
  {
    apiGroups: ["scheduling.x-k8s.io"],
    resources: ["podgroups"],
    verbs: ["get", "list", "watch", "create", "delete"],
  },
];
