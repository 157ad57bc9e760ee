/**
 * Feeds the ClusterState from NATS and answers `strata status`: subscribes to
 * every heartbeat, reads lifecycle events from a durable JetStream consumer
 * (so it catches up on what happened while it was down), sweeps for lost
 * stages once per heartbeat interval, and replies on subjects.clusterStatus().
 * Runs in the controller, and in local mode in the supervisor.
 */
import {
  type ClusterStatusRequest,
  clusterSnapshotSchema,
  clusterStatusRequestSchema,
  decodeMessage,
  encodeMessage,
  HEARTBEAT_INTERVAL_MS,
  heartbeatSchema,
  type LifecycleEvent,
  subjects,
} from "@strata/core";
import {
  consumeLifecycleEvents,
  InvalidMessages,
  type LifecycleConsumer,
  type Logger,
  type NatsConnection,
  subscribeValidated,
} from "@strata/runtime";
import type { Registry } from "prom-client";
import { type ControllerMetrics, controllerMetrics } from "../metrics/metrics.js";
import { ClusterState, type ClusterTransition } from "./cluster-state.js";

export interface ClusterStateServiceOptions {
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Durable consumer name, one of LIFECYCLE_CONSUMERS. */
  readonly durable: string;
  /** Reported as the snapshot's `source`: "controller" or "supervisor". */
  readonly source: string;
  readonly now?: () => number;
  readonly sweepIntervalMs?: number;
  /** Called with every availability change, e.g. to trigger a reconcile or re-route. */
  readonly onTransition?: (t: ClusterTransition) => void;
  /** Called with every lifecycle event once applied (the controller folds them into status). */
  readonly onEvent?: (event: LifecycleEvent) => void;
  /** Called after every sweep (about twice per heartbeat interval). */
  readonly onSweep?: () => void;
}

export class ClusterStateService {
  readonly state: ClusterState;
  readonly metrics: ControllerMetrics;
  readonly #options: ClusterStateServiceOptions;
  readonly #invalid: InvalidMessages;
  #stops: Array<() => void | Promise<void>> = [];

  constructor(options: ClusterStateServiceOptions) {
    this.#options = options;
    this.state = new ClusterState(options.now === undefined ? {} : { now: options.now });
    this.metrics = controllerMetrics(options.registry, this.state);
    this.#invalid = new InvalidMessages({ logger: options.logger, registry: options.registry });
  }

  start(): void {
    const { nc } = this.#options;
    const heartbeats = subscribeValidated(nc, {
      subject: subjects.heartbeats(),
      schema: heartbeatSchema,
      invalid: this.#invalid,
      onMessage: (hb) => {
        this.metrics.heartbeatsReceived.inc();
        this.#report(this.state.applyHeartbeat(hb));
      },
    });
    const events: LifecycleConsumer = consumeLifecycleEvents({
      nc,
      durable: this.#options.durable,
      logger: this.#options.logger,
      registry: this.#options.registry,
      invalid: this.#invalid,
      onEvent: (event) => {
        this.#report(this.state.applyEvent(event));
        this.#options.onEvent?.(event);
      },
    });
    const status = nc.subscribe(subjects.clusterStatus(), {
      callback: (_err, msg) => {
        const decoded =
          msg.data.length === 0
            ? ({ ok: true, value: { v: 1 } } as const)
            : decodeMessage(clusterStatusRequestSchema, msg.data);
        if (!decoded.ok) {
          this.#invalid.record(msg.subject, decoded.reason, decoded.message);
          return;
        }
        const request: ClusterStatusRequest = decoded.value;
        msg.respond(
          encodeMessage(clusterSnapshotSchema, this.state.snapshot(this.#options.source, request.deployment)),
        );
      },
    });
    const sweeper = setInterval(
      () => {
        this.#report(this.state.sweep());
        this.#options.onSweep?.();
      },
      this.#options.sweepIntervalMs ?? HEARTBEAT_INTERVAL_MS / 2,
    );
    this.#stops = [
      () => clearInterval(sweeper),
      () => heartbeats.unsubscribe(),
      () => status.unsubscribe(),
      () => events.stop(),
    ];
  }

  async stop(): Promise<void> {
    for (const stop of this.#stops.splice(0)) await stop();
  }

  #report(transitions: ClusterTransition[]): void {
    for (const t of transitions) {
      this.metrics.stageTransitions.inc({ transition: t.type });
      const where = t.type.startsWith("stage") ? (t as { ref: object }).ref : t;
      if (t.type === "stage-lost" || t.type === "replica-unavailable")
        this.#options.logger.warn(t.type, { ...where });
      else this.#options.logger.info(t.type, { ...where });
      this.#options.onTransition?.(t);
    }
  }
}
