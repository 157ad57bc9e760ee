/**
 * Reading the running cluster from NATS for `strata status`. First it asks
 * whoever keeps the cluster state (the controller in Kubernetes, the
 * supervisor of `strata up` locally) on subjects.clusterStatus(); when nobody
 * answers it listens to heartbeats for a few seconds and folds them itself.
 */

import { ClusterState } from "@strata/controller";
import {
  type ClusterSnapshot,
  clusterSnapshotSchema,
  clusterStatusRequestSchema,
  decodeMessage,
  heartbeatSchema,
  subjects,
} from "@strata/core";
import { ControlRequestError, type NatsConnection, requestValidated } from "@strata/runtime";

export const statusRequestTimeoutMs = 2_000;

export async function readClusterStatus(
  nc: NatsConnection,
  options: { readonly deployment?: string; readonly collectMs: number },
): Promise<ClusterSnapshot> {
  try {
    return await requestValidated(
      nc,
      subjects.clusterStatus(),
      {
        schema: clusterStatusRequestSchema,
        value: { v: 1, ...(options.deployment === undefined ? {} : { deployment: options.deployment }) },
      },
      clusterSnapshotSchema,
      statusRequestTimeoutMs,
    );
  } catch (err: unknown) {
    if (!(err instanceof ControlRequestError)) throw err;
  }
  return collectHeartbeats(nc, options);
}

/** Folds heartbeats heard during `collectMs` (lifecycle history is not read: heartbeats carry the state). */
export async function collectHeartbeats(
  nc: NatsConnection,
  options: { readonly deployment?: string; readonly collectMs: number },
): Promise<ClusterSnapshot> {
  const state = new ClusterState();
  const sub = nc.subscribe(subjects.heartbeats(options.deployment), {
    callback: (_err, msg) => {
      const decoded = decodeMessage(heartbeatSchema, msg.data);
      if (decoded.ok) state.applyHeartbeat(decoded.value);
    },
  });
  await new Promise((r) => setTimeout(r, options.collectMs));
  sub.unsubscribe();
  return state.snapshot("heartbeats", options.deployment);
}
