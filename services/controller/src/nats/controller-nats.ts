/**
 * The controller's side of NATS: one connection, made in the background and
 * kept forever (a controller without NATS still reconciles; it only sees no
 * workers), the cluster-state consumer that the leader runs (heartbeats and the
 * durable lifecycle consumer), and drain/status requests to a group's head.
 */

import type { V1Pod } from "@kubernetes/client-node";
import {
  type ControlReply,
  controlReplySchema,
  controlRequestSchema,
  HEARTBEAT_INTERVAL_MS,
  LIFECYCLE_CONSUMERS,
  type LifecycleEvent,
  LOST_AFTER_INTERVALS,
  MESSAGE_VERSION,
  type StageRef,
  subjects,
} from "@strata/core";
import {
  ControlRequestError,
  connectNats,
  type Logger,
  type NatsConnection,
  requestValidated,
} from "@strata/runtime";
import type { Registry } from "prom-client";
import type { ClusterState } from "../cluster-state/cluster-state.js";
import { ClusterStateService } from "../cluster-state/cluster-state-service.js";
import { type GroupSignals, groupSignals, NO_SIGNALS } from "./group-signals.js";

/** How long the controller waits for a head to answer a drain or status request. */
export const CONTROL_REQUEST_TIMEOUT_MS = 1_000;

export interface ControllerNatsOptions {
  readonly url: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly now?: () => number;
  /** A lifecycle event arrived, or a stage of this deployment may be hung: look at it again. */
  readonly onDeployment: (deployment: string, why: "event" | "suspect") => void;
  /** The connection went up or down. */
  readonly onConnection?: (connected: boolean) => void;
}

/** The answer to a drain or status request. */
export type ControlOutcome =
  | { readonly kind: "reply"; readonly reply: ControlReply }
  /** No worker listens on the stage's subject: nothing to drain. */
  | { readonly kind: "no-responders" }
  /** NATS is down or the worker did not answer in time. */
  | { readonly kind: "unreachable"; readonly error: string };

export class ControllerNats {
  readonly #options: ControllerNatsOptions;
  readonly #now: () => number;
  #nc: NatsConnection | undefined;
  #service: ClusterStateService | undefined;
  #leading = false;
  #closed = false;
  #connectedSinceMs: number | undefined;

  constructor(options: ControllerNatsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Connects in the background, retrying until it succeeds or close() is called. */
  connect(): void {
    void this.#connectLoop();
  }

  /** Runs the cluster-state consumer from now on (once connected); the leader calls it. */
  lead(): void {
    this.#leading = true;
    this.#startService();
  }

  get state(): ClusterState | undefined {
    return this.#service?.state;
  }

  get connected(): boolean {
    return this.#connectedSinceMs !== undefined;
  }

  /**
   * Whether silence on NATS means anything: the controller has been connected
   * for LOST_AFTER_INTERVALS heartbeat intervals and some worker was heard from
   * within them. During an outage (ours or the whole bus) nobody is called hung.
   */
  trustsSilence(): boolean {
    const since = this.#connectedSinceMs;
    const last = this.#service?.state.lastHeartbeatAtMs;
    const window = LOST_AFTER_INTERVALS * HEARTBEAT_INTERVAL_MS;
    const now = this.#now();
    return since !== undefined && now - since >= window && last !== undefined && now - last <= window;
  }

  /** What one group's workers say over NATS (nothing while this process does not lead or has no NATS). */
  signals(pods: readonly V1Pod[]): GroupSignals {
    const state = this.#service?.state;
    if (!state) return NO_SIGNALS;
    return groupSignals(pods, { pod: (uid) => state.pod(uid), trustsSilence: this.trustsSilence() });
  }

  /** Asks the worker of `ref` (and `pod`, when known) to drain. */
  async drain(ref: StageRef, pod: string | undefined): Promise<ControlOutcome> {
    return await this.#request(ref, "drain", pod);
  }

  async status(ref: StageRef, pod: string | undefined): Promise<ControlOutcome> {
    return await this.#request(ref, "status", pod);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#service?.stop();
    await this.#nc?.close();
  }

  async #request(
    ref: StageRef,
    command: "drain" | "status",
    pod: string | undefined,
  ): Promise<ControlOutcome> {
    const nc = this.#nc;
    if (!nc || !this.connected) return { kind: "unreachable", error: "not connected to NATS" };
    try {
      const reply = await requestValidated(
        nc,
        subjects.control(ref),
        {
          schema: controlRequestSchema,
          value: { v: MESSAGE_VERSION, command, ...(pod === undefined ? {} : { pod }) },
        },
        controlReplySchema,
        CONTROL_REQUEST_TIMEOUT_MS,
      );
      return { kind: "reply", reply };
    } catch (err: unknown) {
      const cause = err instanceof ControlRequestError ? err.cause : err;
      if ((cause as { isNoResponders?: () => boolean })?.isNoResponders?.()) return { kind: "no-responders" };
      return { kind: "unreachable", error: err instanceof Error ? err.message : String(err) };
    }
  }

  async #connectLoop(): Promise<void> {
    let warned = false;
    while (!this.#closed) {
      try {
        const nc = await connectNats({
          servers: this.#options.url,
          name: "strata-controller",
          logger: this.#options.logger,
          firstConnectTimeoutMs: 10_000,
        });
        if (this.#closed) {
          await nc.close();
          return;
        }
        this.#nc = nc;
        this.#connectedSinceMs = this.#now();
        this.#options.onConnection?.(true);
        this.#options.logger.info("nats connected", { url: this.#options.url });
        this.#watch(nc);
        this.#startService();
        return;
      } catch (err: unknown) {
        if (!warned) {
          warned = true;
          this.#options.logger.warn("nats not reachable; retrying in the background", {
            url: this.#options.url,
            error: String(err),
          });
        }
        await new Promise((r) => setTimeout(r, 2_000).unref());
      }
    }
  }

  #watch(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.#connectedSinceMs = undefined;
          this.#options.onConnection?.(false);
        } else if (s.type === "reconnect") {
          this.#connectedSinceMs = this.#now();
          this.#options.onConnection?.(true);
        }
      }
    })();
  }

  #startService(): void {
    const nc = this.#nc;
    if (!nc || !this.#leading || this.#service) return;
    const { logger, registry, onDeployment } = this.#options;
    const service = new ClusterStateService({
      nc,
      logger,
      registry,
      durable: LIFECYCLE_CONSUMERS.controller,
      source: "controller",
      ...(this.#options.now ? { now: this.#options.now } : {}),
      onEvent: (event: LifecycleEvent) => onDeployment(event.deployment, "event"),
      onTransition: (t) => onDeployment("ref" in t ? t.ref.deployment : t.deployment, "event"),
      onSweep: () => {
        for (const deployment of service.state.suspects()) onDeployment(deployment, "suspect");
      },
    });
    service.start();
    this.#service = service;
  }
}
