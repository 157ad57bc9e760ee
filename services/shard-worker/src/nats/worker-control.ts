/**
 * A worker's side of the control plane: a heartbeat every interval, a
 * lifecycle event on every state change (through the outbox, so none is lost
 * while NATS is down), and request-reply handlers for drain, shutdown and
 * status on subjects.control(ref).
 *
 * Drain: the worker reports `draining` in heartbeats and events, so routers
 * (the gateway) send it no new requests; it is drained once its engine has no
 * request running or waiting. Shutdown drains for up to `graceMs`, publishes
 * `stopped`, then calls the worker's own stop.
 */

import type { Msg, Subscription } from "@nats-io/transport-node";
import {
  type ControlReply,
  type ControlRequest,
  controlReplySchema,
  controlRequestSchema,
  decodeMessage,
  type EngineProbe,
  encodeMessage,
  HEARTBEAT_INTERVAL_MS,
  type Heartbeat,
  heartbeatSchema,
  type LayerRange,
  MESSAGE_VERSION,
  type StageRef,
  type StageState,
  type StageStatus,
  subjects,
} from "@strata/core";
import {
  InvalidMessages,
  LifecycleOutbox,
  type Logger,
  type NatsConnection,
  publishValidated,
} from "@strata/runtime";
import type { Registry } from "prom-client";
import type { EngineFiguresSource, WorkerMetrics } from "../metrics/worker-metrics.js";

export interface WorkerIdentity extends StageRef {
  readonly stageCount: number;
  readonly engine: "llamacpp" | "vllm";
  readonly layers: LayerRange;
  /** The pod's uid in Kubernetes (STRATA_POD_UID). */
  readonly pod?: string;
}

export interface WorkerControlDeps {
  readonly nc: NatsConnection;
  readonly identity: WorkerIdentity;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly metrics: WorkerMetrics;
  /** Latest engine figures; undefined figures mean "no load" (e.g. an rpc-server stage). */
  readonly engine: EngineFiguresSource;
  /** The engine's health from the worker's probe, for heartbeats. */
  readonly probe?: () => EngineProbe | undefined;
  /**
   * Requests the head is serving now (its front). When given, a draining head is
   * drained once this is 0; otherwise once the engine reports nothing running or waiting.
   */
  readonly inFlight?: () => number;
  /** Stops the worker's engine and process; called after `stopped` is published. */
  readonly onShutdown: () => void | Promise<void>;
  readonly now?: () => number;
  readonly intervalMs?: number;
}

/** Default time a shutdown waits for in-flight requests. */
export const shutdownGraceMs = 30_000;
const drainPollMs = 100;
const flushOnStopMs = 5_000;

export class WorkerControl {
  readonly outbox: LifecycleOutbox;
  readonly #deps: WorkerControlDeps;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #startedAtMs: number;
  readonly #invalid: InvalidMessages;
  #state: StageState = "starting";
  #seq = 0;
  #restarts = 0;
  #endpoint: string | undefined;
  #tunnelAddress: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sub: Subscription | undefined;
  #lastTokens: { atMs: number; total: number } | undefined;
  #tokensPerSecond = 0;
  #shuttingDown = false;

  constructor(deps: WorkerControlDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#intervalMs = deps.intervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#startedAtMs = this.#now();
    this.#invalid = new InvalidMessages({ logger: deps.logger, registry: deps.registry });
    this.outbox = new LifecycleOutbox({
      nc: deps.nc,
      logger: deps.logger,
      registry: deps.registry,
      now: this.#now,
    });
  }

  get state(): StageState {
    return this.#state;
  }

  /** Publishes `starting`, starts heartbeats and answers control requests. */
  start(): void {
    this.#publishEvent("starting");
    this.#sub = this.#deps.nc.subscribe(subjects.control(this.#deps.identity), {
      callback: (_err, msg) => void this.#onControl(msg),
    });
    this.heartbeat();
    this.#timer = setInterval(() => this.heartbeat(), this.#intervalMs);
  }

  /** The head's OpenAI endpoint, or a stage's tunnel address, once known. */
  setAddresses(addresses: { endpoint?: string; tunnelAddress?: string }): void {
    this.#endpoint = addresses.endpoint ?? this.#endpoint;
    this.#tunnelAddress = addresses.tunnelAddress ?? this.#tunnelAddress;
  }

  /**
   * Moves to `state` and publishes the event. Case 1: draining/stopped are
   * terminal for the engine's own transitions (a restart while draining stays
   * draining). Case 2: failed always wins. Case 3: otherwise the new state.
   */
  setState(state: StageState, reason?: string): void {
    if (state === this.#state) return;
    if (
      (this.#state === "draining" || this.#state === "stopped") &&
      state !== "failed" &&
      state !== "stopped"
    ) {
      return;
    }
    this.#state = state;
    this.#publishEvent(state, reason);
    this.heartbeat();
  }

  /** Counts an engine restart for heartbeats (the worker's own metrics count it too). */
  engineRestarted(): void {
    this.#restarts++;
  }

  /** Accept no new requests; resolves once none is running or waiting. */
  async drain(): Promise<void> {
    this.setState("draining");
    while (this.#state === "draining" && !this.drained())
      await new Promise((r) => setTimeout(r, drainPollMs));
  }

  drained(): boolean {
    if (this.#state !== "draining") return false;
    if (this.#deps.inFlight) return this.#deps.inFlight() === 0;
    const figures = this.#deps.engine.latest();
    return figures === undefined || figures.requestsRunning + figures.requestsWaiting === 0;
  }

  status(): StageStatus {
    const { identity } = this.#deps;
    const load = this.#load();
    return {
      deployment: identity.deployment,
      replica: identity.replica,
      stage: identity.stage,
      stageCount: identity.stageCount,
      state: this.#state,
      layers: identity.layers,
      ...load,
      drained: this.drained(),
      startedAtMs: this.#startedAtMs,
      ...(identity.pod === undefined ? {} : { pod: identity.pod }),
    };
  }

  heartbeat(): void {
    if (this.#deps.nc.isClosed()) return;
    const { identity } = this.#deps;
    const now = this.#now();
    const probe = this.#deps.probe?.();
    const hb: Heartbeat = {
      v: MESSAGE_VERSION,
      deployment: identity.deployment,
      replica: identity.replica,
      stage: identity.stage,
      stageCount: identity.stageCount,
      engine: identity.engine,
      state: this.#state,
      layers: identity.layers,
      ...this.#load(now),
      ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
      ...(this.#tunnelAddress === undefined ? {} : { tunnelAddress: this.#tunnelAddress }),
      ...(identity.pod === undefined ? {} : { pod: identity.pod }),
      ...(probe === undefined ? {} : { probe }),
      intervalMs: this.#intervalMs,
      seq: this.#seq++,
      startedAtMs: this.#startedAtMs,
      sentAtMs: now,
    };
    // Core NATS buffers publishes while reconnecting; a heartbeat lost in an outage is replaced by the next.
    publishValidated(this.#deps.nc, subjects.heartbeat(identity), heartbeatSchema, hb);
    this.#deps.metrics.heartbeatsPublished.inc();
  }

  /** Publishes `stopped` (unless already), waits for the outbox, stops heartbeats and handlers. */
  async stop(reason = "worker stopped"): Promise<void> {
    clearInterval(this.#timer);
    this.setState("stopped", reason);
    try {
      await this.outbox.flush(flushOnStopMs);
    } catch (err: unknown) {
      this.#deps.logger.warn("stopping with lifecycle events unsent", { error: String(err) });
    }
    this.outbox.close();
    this.#sub?.unsubscribe();
  }

  #load(now = this.#now()) {
    const figures = this.#deps.engine.latest();
    if (figures !== undefined) {
      const generated = figures.generatedTokensTotal + (figures.inFlightGeneratedTokens ?? 0);
      const last = this.#lastTokens;
      if (last === undefined || now - last.atMs >= this.#intervalMs / 2) {
        if (last !== undefined && now > last.atMs) {
          this.#tokensPerSecond = Math.max(0, ((generated - last.total) * 1000) / (now - last.atMs));
        }
        this.#lastTokens = { atMs: now, total: generated };
      }
    }
    return {
      requestsRunning: figures?.requestsRunning ?? 0,
      requestsWaiting: figures?.requestsWaiting ?? 0,
      kvCacheUsage: figures?.kvCacheUsage ?? 0,
      tokensPerSecond: figures === undefined ? 0 : this.#tokensPerSecond,
      engineRestarts: this.#restarts,
    };
  }

  #publishEvent(kind: StageState, reason?: string): void {
    const { identity } = this.#deps;
    this.outbox.publish({
      deployment: identity.deployment,
      replica: identity.replica,
      stage: identity.stage,
      kind,
      layers: identity.layers,
      ...(reason === undefined ? {} : { reason }),
      ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
      ...(identity.pod === undefined ? {} : { pod: identity.pod }),
    });
  }

  async #onControl(msg: Msg): Promise<void> {
    const decoded = decodeMessage(controlRequestSchema, msg.data);
    if (!decoded.ok) {
      this.#invalid.record(msg.subject, decoded.reason, decoded.message);
      this.#reply(msg, { v: MESSAGE_VERSION, ok: false, error: `invalid request: ${decoded.message}` });
      return;
    }
    const request: ControlRequest = decoded.value;
    const pod = this.#deps.identity.pod;
    // Meant for another pod of this stage's name: that pod answers, not this one.
    if (request.pod !== undefined && pod !== undefined && request.pod !== pod) return;
    this.#deps.logger.info("control request", { command: request.command });
    switch (request.command) {
      case "status":
        break;
      case "drain":
        void this.drain();
        break;
      case "shutdown":
        void this.#shutdown(request.graceMs ?? shutdownGraceMs);
        break;
    }
    // Replies at once with the state the command produced; progress shows in later heartbeats.
    this.#reply(msg, { v: MESSAGE_VERSION, ok: true, command: request.command, status: this.status() });
  }

  async #shutdown(graceMs: number): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    await Promise.race([this.drain(), new Promise((r) => setTimeout(r, graceMs))]);
    await this.stop("shutdown requested");
    await this.#deps.onShutdown();
  }

  #reply(msg: Msg, reply: ControlReply): void {
    if (msg.reply) msg.respond(encodeMessage(controlReplySchema, reply));
  }
}
