/**
 * Names of the objects the controller derives from a ModelDeployment. Pods
 * have fixed names (not generateName) so a repeated reconcile cannot create
 * a duplicate: the API server answers AlreadyExists instead.
 */
import { stagePodName } from "@strata/core";

export const groupName = (deployment: string, replica: number) => `${deployment}-${replica}`;
export const podName = stagePodName;
/**
 * Headless Service of a deployment, one for all its groups: gives each stage
 * pod a stable DNS name (pod names are unique across groups), and its
 * EndpointSlices tell the gateway where each group's head is and whether it
 * is serving.
 */
export const headlessServiceName = (deployment: string) => `${deployment}-stages`;
export const tunnelSecretName = (deployment: string) => `${deployment}-tunnel`;
export const podGroupName = groupName;

/** DNS name of a stage pod through its deployment's headless Service. */
export function stageHost(deployment: string, namespace: string, replica: number, stage: number): string {
  return `${podName(deployment, replica, stage)}.${headlessServiceName(deployment)}.${namespace}.svc`;
}
