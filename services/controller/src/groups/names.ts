/**
 * Names of the objects the controller derives from a ModelDeployment. Pods
 * have fixed names (not generateName) so a repeated reconcile cannot create
 * a duplicate: the API server answers AlreadyExists instead.
 */
export const groupName = (deployment: string, replica: number) => `${deployment}-${replica}`;
export const podName = (deployment: string, replica: number, stage: number) =>
  `${deployment}-${replica}-${stage}`;
/** Headless Service of a group: gives each stage pod a stable DNS name. */
export const headlessServiceName = groupName;
/** ClusterIP Service in front of a group's head (stage 0), for the gateway. */
export const headServiceName = (deployment: string, replica: number) => `${deployment}-${replica}-head`;
export const tunnelSecretName = (deployment: string) => `${deployment}-tunnel`;
export const podGroupName = groupName;

/** DNS name of a stage pod through its group's headless Service. */
export function stageHost(deployment: string, namespace: string, replica: number, stage: number): string {
  return `${podName(deployment, replica, stage)}.${headlessServiceName(deployment, replica)}.${namespace}.svc`;
}
