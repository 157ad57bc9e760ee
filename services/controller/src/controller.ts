import type { Server } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { jsonLogger, type Logger } from "@strata/runtime";
import { Registry } from "prom-client";
import type { ControllerConfig } from "./config.js";
import { isConflict, KubeApi } from "./kube/api.js";
import { Caches } from "./kube/caches.js";
import { type Clock, systemClock, WorkQueue } from "./kube/workqueue.js";
import { LeaderElector } from "./leader/lease.js";
import { RECONCILE_RESULTS, ReconcilerMetrics } from "./metrics/reconciler-metrics.js";
import { ControllerNats } from "./nats/controller-nats.js";
import { planOneReplica } from "./plan/auto.js";
import type { AutoPlanner } from "./plan/resolve-plan.js";
import { KubeEventRecorder } from "./reconcile/events.js";
import { Reconciler } from "./reconcile/reconciler.js";
import { startHealthServer } from "./server.js";

export interface ControllerDeps {
  readonly kubeConfig: KubeConfig;
  readonly config: ControllerConfig;
  readonly log?: Logger;
  readonly registry?: Registry;
  readonly clock?: Clock;
  readonly autoPlanner?: AutoPlanner;
  /**
   * Called when the process must end: leadership lost or a watch that cannot
   * recover. The default exits the process, as a controller must not act on a
   * stale view; tests pass their own.
   */
  readonly onFatal?: (err: Error) => void;
}

// A conflict means our cache was behind: try again soon, without growing backoff.
const CONFLICT_REQUEUE_MS = 200;
/**
 * Lifecycle events reach status at most this late: a burst of them (a group
 * starting, a rollout) is folded into one reconcile and one status write.
 */
const EVENT_COALESCE_MS = 500;
/**
 * Pod and Service events reach a reconcile at most this late: a group's pods
 * are created, bound and started in quick succession, and one reconcile (one
 * status write) for the lot leaves the API server's writes to the pods.
 */
const OWNED_COALESCE_MS = 300;

/** The ModelDeployment controller: informers, work queue, reconciler, leader election, health. */
export class Controller {
  readonly metrics: ReconcilerMetrics;
  readonly registry: Registry;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly api: KubeApi;
  private readonly caches: Caches;
  private readonly queue: WorkQueue;
  private readonly elector: LeaderElector | undefined;
  private readonly nats: ControllerNats;
  private reconciler: Reconciler | undefined;
  private server: Server | undefined;
  private synced = false;
  private failed = false;
  private stopped = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly workers: Promise<void>[] = [];
  private port = 0;

  constructor(private readonly deps: ControllerDeps) {
    this.log = deps.log ?? jsonLogger("controller");
    this.clock = deps.clock ?? systemClock;
    this.registry = deps.registry ?? new Registry();
    this.metrics = new ReconcilerMetrics(this.registry);
    const count = (verb: string, resource: string) => this.metrics.apiRequests.inc({ verb, resource });
    this.api = new KubeApi(deps.kubeConfig, count);
    this.caches = new Caches(this.api, deps.config.namespace, count);
    this.queue = new WorkQueue({ baseMs: 250, maxMs: 60_000 }, this.clock);
    const le = deps.config.leaderElection;
    this.elector = le ? new LeaderElector(this.api, le, this.clock, this.log) : undefined;
    this.nats = new ControllerNats({
      url: deps.config.natsUrl,
      logger: this.log,
      registry: this.registry,
      now: () => this.clock.now(),
      onDeployment: (deployment, why) =>
        this.enqueueNamed(deployment, why === "event" ? EVENT_COALESCE_MS : 0),
      onConnection: (connected) => this.metrics.natsConnected.set(connected ? 1 : 0),
    });
  }

  /** The cluster state the leader folds from NATS; undefined until it leads and is connected. */
  get clusterState() {
    return this.nats.state;
  }

  /** Port of /healthz, /readyz and /metrics. */
  get healthPort(): number {
    return this.port;
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : !this.stopped;
  }

  async start(): Promise<void> {
    const { config } = this.deps;
    const { server, port } = await startHealthServer(
      config.healthHost,
      config.healthPort,
      { healthy: () => !this.failed, ready: () => this.synced && !this.failed },
      this.registry,
    );
    this.server = server;
    this.port = port;
    const podGroups = await this.api.podGroupApiExists();
    this.reconciler = new Reconciler({
      api: this.api,
      caches: this.caches,
      clock: this.clock,
      log: this.log,
      autoPlanner: this.deps.autoPlanner ?? planOneReplica,
      events: new KubeEventRecorder(this.api, this.clock, this.log),
      workers: this.nats,
      metrics: this.metrics,
      settings: {
        natsUrl: config.natsUrl,
        gangTimeoutMs: config.gangTimeoutMs,
        gangBackoffBaseMs: config.gangBackoffBaseMs,
        gangBackoffMaxMs: config.gangBackoffMaxMs,
        capacityRetryMs: config.capacityRetryMs,
        podGroupScheduler: podGroups ? config.podGroupScheduler : undefined,
        nodeNotReadyGraceMs: config.nodeNotReadyGraceMs,
      },
    });
    this.nats.connect();
    await this.caches.start({
      deployment: (key, urgent) => this.queue.add(key, urgent),
      owned: (key) => this.queue.addAfter(key, OWNED_COALESCE_MS),
      capacity: () => this.enqueueAll(),
      fatal: (err) => this.fatal(err instanceof Error ? err : new Error(String(err))),
    });
    this.synced = true;
    this.log.info("caches synced", { podGroups, namespace: config.namespace ?? "(all)", healthPort: port });
    if (this.elector) {
      this.elector.run(
        () => this.startWorkers(),
        (why) => this.fatal(new Error(`lost leadership: ${why}`)),
      );
    } else {
      this.startWorkers();
    }
  }

  /** Stops workers, watches and the health server; a leader releases its lease. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.elector?.stop(true);
    this.queue.shutDown();
    await Promise.allSettled(this.workers);
    await this.nats.close();
    await this.caches.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.metrics.isLeader.set(0);
  }

  private startWorkers(): void {
    if (this.stopped) return;
    this.metrics.isLeader.set(1);
    this.nats.lead();
    this.enqueueAll();
    this.resyncTimer = setInterval(() => this.enqueueAll(), this.deps.config.resyncMs);
    this.resyncTimer.unref();
    for (let i = 0; i < this.deps.config.workers; i++) this.workers.push(this.work());
  }

  private async work(): Promise<void> {
    const reconciler = this.reconciler;
    if (!reconciler) return;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.metrics.queueDepth.set(this.queue.length);
      const end = this.metrics.reconcileSeconds.startTimer();
      try {
        const result = await reconciler.reconcile(key);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconciles.inc({ result: RECONCILE_RESULTS.ok });
      } catch (err) {
        if (isConflict(err)) {
          this.metrics.reconciles.inc({ result: RECONCILE_RESULTS.requeue });
          this.queue.addAfter(key, CONFLICT_REQUEUE_MS);
        } else {
          this.metrics.reconciles.inc({ result: RECONCILE_RESULTS.error });
          const delay = this.queue.addRateLimited(key);
          this.log.warn("reconcile failed", { key, retryInMs: delay, error: describe(err) });
        }
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.metrics.queueDepth.set(this.queue.length);
  }

  /** Every ModelDeployment of this name (NATS subjects carry no namespace), after `delayMs`. */
  private enqueueNamed(deployment: string, delayMs: number): void {
    if (!this.isLeader || this.stopped) return;
    for (const key of this.caches.deploymentKeys()) {
      if (key.endsWith(`/${deployment}`)) this.queue.addAfter(key, delayMs);
    }
  }

  private enqueueAll(): void {
    for (const key of this.caches.deploymentKeys()) this.enqueue(key);
  }

  private fatal(err: Error): void {
    if (this.stopped) return;
    this.failed = true;
    this.log.error("fatal", { error: err.message });
    if (this.deps.onFatal) {
      this.deps.onFatal(err);
      return;
    }
    process.exit(1);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const body = (err as { body?: unknown }).body;
    return body ? `${err.message} ${typeof body === "string" ? body : JSON.stringify(body)}` : err.message;
  }
  return String(err);
}
