import { z } from "zod";

/**
 * Deployment names are Kubernetes object names (DNS-1123 labels): safe in pod
 * and Service names, and as one NATS subject token.
 */
export const DEPLOYMENT_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const deploymentNameSchema = z
  .string()
  .regex(DEPLOYMENT_NAME_PATTERN, 'must be a lowercase DNS label (a-z, 0-9, "-", at most 63 characters)');

export function isDeploymentName(name: string): boolean {
  return DEPLOYMENT_NAME_PATTERN.test(name);
}
