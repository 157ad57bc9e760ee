import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  decodeMessage,
  HEARTBEAT_INTERVAL_MS,
  heartbeatSchema,
  LOST_AFTER_INTERVALS,
  lifecycleEventSchema,
  type StageState,
  subjects,
} from "@strata/core";
import { InvalidMessages, type Logger, silentLogger } from "@strata/runtime";
import { Registry } from "prom-client";
import type { ReplicaSink, ReplicaSource } from "../replicas.js";

export interface NatsHeartbeatOptions {
  /** When false, heartbeats only update the load of replicas another source found (Kubernetes mode). */
  readonly discover: boolean;
  /** Served model name for a deployment; local mode serves each deployment under its own name. */
  readonly servedName?: (deployment: string) => string;
  readonly nowMs?: () => number;
  /** How often heads with stopped heartbeats are swept out. */
  readonly sweepIntervalMs?: number;
  /** Where rejected messages are counted (strata_nats_invalid_messages_total); a private one by default. */
  readonly registry?: Registry;
  readonly logger?: Logger;
}

/** Replica id shared by every source: `<deployment>/<replica>`. */
export const replicaKey = (deployment: string, replica: number): string => `${deployment}/${replica}`;

/**
 * Replica heads from workers on NATS. Heartbeats (`strata.heartbeat.>`): a
 * head (stage 0) that reports `ready` and an endpoint becomes a replica; one
 * whose heartbeats stop for LOST_AFTER_INTERVALS intervals is removed; every
 * head heartbeat carries its load (waiting requests, KV-cache use), which
 * feeds routing. Lifecycle events (`strata.lifecycle.>`, read as they are
 * published, not from the stream): a head that starts draining, stops or
 * fails gets no new request from the moment its event arrives, in both modes
 * (with Kubernetes discovery the head's EndpointSlice would only follow its
 * readiness probe, seconds later).
 *
 * A NATS outage is not a lost head: while the gateway is disconnected it keeps
 * the heads it knows (they may well be serving), and after it reconnects each
 * gets LOST_AFTER_INTERVALS intervals to be heard from again.
 */
export class NatsHeartbeatSource implements ReplicaSource {
  readonly name = "nats";
  private readonly nc: NatsConnection;
  private readonly options: NatsHeartbeatOptions;
  private readonly invalid: InvalidMessages;
  private readonly lastSeenMs = new Map<string, { atMs: number; lostAfterMs: number }>();
  private subs: Subscription[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  private connected = true;
  private stopped = false;
  /** Messages that failed to decode (also counted in the registry). */
  rejected = 0;

  constructor(nc: NatsConnection, options: NatsHeartbeatOptions) {
    this.nc = nc;
    this.options = options;
    this.invalid = new InvalidMessages({
      logger: options.logger ?? silentLogger,
      registry: options.registry ?? new Registry(),
    });
  }

  async start(sink: ReplicaSink): Promise<void> {
    const now = this.options.nowMs ?? Date.now;
    const servedName = this.options.servedName ?? ((d: string) => d);
    const reject = (subject: string, reason: "json" | "schema", message: string) => {
      this.rejected += 1;
      this.invalid.record(subject, reason, message);
    };
    /** A head's state from a heartbeat or an event; `url` is the head it came from, when known. */
    const follow = (deployment: string, replica: number, state: StageState, url: string | undefined) => {
      const id = replicaKey(deployment, replica);
      const serving = state === "ready";
      if (this.options.discover) {
        if (serving && url) {
          sink.upsert({ id, model: servedName(deployment), url });
        } else if (!serving) {
          sink.remove(id, url);
          this.lastSeenMs.delete(id);
        }
      } else {
        sink.setServing(id, serving, url);
      }
    };
    const heartbeats = this.nc.subscribe(subjects.heartbeats(), {
      callback: (err, msg) => {
        if (err) return;
        const decoded = decodeMessage(heartbeatSchema, msg.data);
        if (!decoded.ok) return reject(msg.subject, decoded.reason, decoded.message);
        const hb = decoded.value;
        if (hb.stage !== 0) return;
        const id = replicaKey(hb.deployment, hb.replica);
        const url = hb.endpoint === undefined ? undefined : new URL(hb.endpoint).origin;
        follow(hb.deployment, hb.replica, hb.state, url);
        if (this.options.discover && hb.state === "ready" && url) {
          this.lastSeenMs.set(id, { atMs: now(), lostAfterMs: hb.intervalMs * LOST_AFTER_INTERVALS });
        }
        sink.reportLoad(id, { waiting: hb.requestsWaiting, kvUsage: hb.kvCacheUsage, atMs: now() });
      },
    });
    const events = this.nc.subscribe(subjects.lifecycles(), {
      callback: (err, msg) => {
        if (err) return;
        const decoded = decodeMessage(lifecycleEventSchema, msg.data);
        if (!decoded.ok) return reject(msg.subject, decoded.reason, decoded.message);
        const event = decoded.value;
        // Only a head's leaving (draining, stopped, failed, engine restarting) acts at once;
        // it comes back through its heartbeats.
        if (event.stage !== 0 || event.kind === "ready") return;
        const url = event.endpoint === undefined ? undefined : new URL(event.endpoint).origin;
        follow(event.deployment, event.replica, event.kind, url);
      },
    });
    this.subs = [heartbeats, events];
    void this.watchConnection(now);
    await this.nc.flush();
    if (this.options.discover) {
      this.sweeper = setInterval(
        () => {
          if (!this.connected) return;
          const t = now();
          for (const [id, seen] of this.lastSeenMs) {
            if (t - seen.atMs > seen.lostAfterMs) {
              this.lastSeenMs.delete(id);
              sink.remove(id);
            }
          }
        },
        this.options.sweepIntervalMs ?? HEARTBEAT_INTERVAL_MS / 2,
      );
      this.sweeper.unref();
    }
  }

  private async watchConnection(now: () => number): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.stopped) return;
      if (s.type === "disconnect") this.connected = false;
      else if (s.type === "reconnect") {
        this.connected = true;
        const t = now();
        for (const seen of this.lastSeenMs.values()) seen.atMs = t;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const sub of this.subs.splice(0)) sub.unsubscribe();
  }
}
