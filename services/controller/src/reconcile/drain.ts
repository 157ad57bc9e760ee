/**
 * Drain before delete: a group a rollout replaces, or a scale-down removes,
 * first has its head asked to drain over NATS (it refuses new requests with
 * 503, the gateway stops routing to it, in-flight requests finish), and its
 * pods are deleted once the head reports none left, or when the deployment's
 * drain timeout has passed. Progress lives in the group's status
 * (`drainingSince`), so a new leader picks up where the old one was.
 */
import type { StageRef } from "@strata/core";
import type { ControlOutcome } from "../nats/controller-nats.js";

/** What the drain step needs of the controller's NATS side. */
export interface DrainClient {
  drain(ref: StageRef, pod: string | undefined): Promise<ControlOutcome>;
  status(ref: StageRef, pod: string | undefined): Promise<ControlOutcome>;
}

export interface DrainInput {
  readonly head: StageRef;
  readonly headPod: string | undefined;
  /** A worker of the group has spoken over NATS; otherwise there is nobody to drain. */
  readonly observed: boolean;
  /** When the head was first asked, from the group's status (ms since the epoch). */
  readonly drainingSinceMs: number | undefined;
  readonly nowMs: number;
  readonly timeoutMs: number;
}

/** Why the group's pods may go now; a label of strata_controller_drains_total. */
export const DRAIN_RESULTS = {
  drained: "drained",
  timeout: "timeout",
  noWorker: "no_worker",
  disabled: "disabled",
} as const;
export type DrainResult = (typeof DRAIN_RESULTS)[keyof typeof DRAIN_RESULTS];

export type DrainProgress =
  | { readonly kind: "delete"; readonly result: DrainResult; readonly message: string }
  | { readonly kind: "wait"; readonly drainingSinceMs: number; readonly message: string };

/** How soon a draining group is looked at again. */
export const DRAIN_POLL_MS = 500;

/**
 * One pass of a drain.
 * Case 1: a drain timeout of 0: delete at once.
 * Case 2: no worker of the group ever spoke over NATS: nothing to drain, delete.
 * Case 3: the drain timeout has passed since the head was asked: delete.
 * Case 4: not asked yet: ask; a head nobody listens for is gone: delete.
 * Case 5: asked: the head says it is drained: delete.
 * Case 6: asked, but the head is not draining (it restarted): ask again.
 * Case 7: otherwise (in-flight requests, or NATS unreachable): wait.
 */
export async function drainStep(client: DrainClient, input: DrainInput): Promise<DrainProgress> {
  const { nowMs, timeoutMs } = input;
  if (timeoutMs <= 0)
    return { kind: "delete", result: DRAIN_RESULTS.disabled, message: "drain timeout is 0" };
  if (!input.observed) {
    return { kind: "delete", result: DRAIN_RESULTS.noWorker, message: "no worker of the group is on NATS" };
  }
  const since = input.drainingSinceMs;
  if (since !== undefined && nowMs - since >= timeoutMs) {
    return {
      kind: "delete",
      result: DRAIN_RESULTS.timeout,
      message: `drain timed out after ${Math.round(timeoutMs / 1000)} s`,
    };
  }
  const ask = since === undefined ? "drain" : "status";
  let outcome =
    ask === "drain"
      ? await client.drain(input.head, input.headPod)
      : await client.status(input.head, input.headPod);
  if (outcome.kind === "reply" && outcome.reply.ok && outcome.reply.status.state !== "draining") {
    if (outcome.reply.status.state !== "stopped") outcome = await client.drain(input.head, input.headPod);
  }
  if (outcome.kind === "no-responders") {
    return { kind: "delete", result: DRAIN_RESULTS.noWorker, message: "the head no longer answers on NATS" };
  }
  const startedMs = since ?? nowMs;
  if (outcome.kind === "unreachable" || !outcome.reply.ok) {
    const why = outcome.kind === "unreachable" ? outcome.error : outcome.reply.ok ? "" : outcome.reply.error;
    return {
      kind: "wait",
      drainingSinceMs: startedMs,
      message: `draining: the head did not answer (${why})`,
    };
  }
  const status = outcome.reply.status;
  if (status.drained || status.state === "stopped") {
    return { kind: "delete", result: DRAIN_RESULTS.drained, message: "the head finished its requests" };
  }
  return {
    kind: "wait",
    drainingSinceMs: startedMs,
    message: "draining: the head still serves requests in flight",
  };
}
