import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  decodeMessage,
  HEARTBEAT_INTERVAL_MS,
  heartbeatSchema,
  LOST_AFTER_INTERVALS,
  subjects,
} from "@strata/core";
import type { ReplicaSink, ReplicaSource } from "../replicas.js";

export interface NatsHeartbeatOptions {
  /** When false, heartbeats only update the load of replicas another source found (Kubernetes mode). */
  readonly discover: boolean;
  /** Served model name for a deployment; local mode serves each deployment under its own name. */
  readonly servedName?: (deployment: string) => string;
  readonly nowMs?: () => number;
  /** How often heads with stopped heartbeats are swept out. */
  readonly sweepIntervalMs?: number;
}

/** Replica id shared by every source: `<deployment>/<replica>`. */
export const replicaKey = (deployment: string, replica: number): string => `${deployment}/${replica}`;

/**
 * Replica heads from worker heartbeats on NATS (`strata.heartbeat.>`). A head
 * (stage 0) that reports `ready` and an endpoint becomes a replica; one that
 * reports another state, or whose heartbeats stop for LOST_AFTER_INTERVALS
 * intervals, is removed. Every head heartbeat carries its load (waiting
 * requests, KV-cache use), which feeds routing.
 */
export class NatsHeartbeatSource implements ReplicaSource {
  readonly name = "nats";
  private readonly nc: NatsConnection;
  private readonly options: NatsHeartbeatOptions;
  private readonly lastSeenMs = new Map<string, { atMs: number; lostAfterMs: number }>();
  private sub: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** Messages that failed to decode; exposed for tests and logs. */
  rejected = 0;

  constructor(nc: NatsConnection, options: NatsHeartbeatOptions) {
    this.nc = nc;
    this.options = options;
  }

  async start(sink: ReplicaSink): Promise<void> {
    const now = this.options.nowMs ?? Date.now;
    const servedName = this.options.servedName ?? ((d: string) => d);
    this.sub = this.nc.subscribe(subjects.heartbeats(), {
      callback: (err, msg) => {
        if (err) return;
        const decoded = decodeMessage(heartbeatSchema, msg.data);
        if (!decoded.ok) {
          this.rejected += 1;
          return;
        }
        const hb = decoded.value;
        if (hb.stage !== 0) return;
        const id = replicaKey(hb.deployment, hb.replica);
        const serving = hb.state === "ready" && hb.endpoint !== undefined;
        if (this.options.discover) {
          if (serving && hb.endpoint) {
            sink.upsert({ id, model: servedName(hb.deployment), url: new URL(hb.endpoint).origin });
            this.lastSeenMs.set(id, { atMs: now(), lostAfterMs: hb.intervalMs * LOST_AFTER_INTERVALS });
          } else {
            sink.remove(id);
            this.lastSeenMs.delete(id);
          }
        }
        sink.reportLoad(id, { waiting: hb.requestsWaiting, kvUsage: hb.kvCacheUsage, atMs: now() });
      },
    });
    await this.nc.flush();
    if (this.options.discover) {
      this.sweeper = setInterval(
        () => {
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

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}
