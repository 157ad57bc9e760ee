/**
 * Names of the objects the controller derives from a ModelDeployment. Pods
 * have fixed names (not generateName) so a repeated reconcile cannot create
 * a duplicate: the API server answers AlreadyExists instead.
 */
import { stagePodName } from "@strata/core";

export const groupName = (deployment: string, replica: number) => `${deployment}-${replica}`;
export const podName = stagePodName;
/**
 * Headless Service of a group: gives each stage pod a stable DNS name, and its
 * EndpointSlice tells the gateway where the head is and whether it is ready.
 */
export const headlessServiceName = groupName;
export const tunnelSecretName = (deployment: string) => `${deployment}-tunnel`;
export const podGroupName = groupName;

/** DNS name of a stage pod through its group's headless Service. */
export function stageHost(deployment: string, namespace: string, replica: number, stage: number): string {
  return `${podName(deployment, replica, stage)}.${headlessServiceName(deployment, replica)}.${namespace}.svc`;
}
