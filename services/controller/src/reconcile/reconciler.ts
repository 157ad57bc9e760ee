import type { V1Pod } from "@kubernetes/client-node";
import {
  type GroupStatus,
  LABELS,
  type ModelDeployment,
  type ModelDeploymentSpec,
  modelDeploymentSpecSchema,
  type PlanStatus,
  REASONS,
  stageWidth,
} from "@strata/core";
import type { Logger } from "@strata/runtime";
import { groupPods, needsGroupToken, usesTunnel } from "../groups/desired.js";
import { lostNode } from "../groups/nodes.js";
import { decideGroup, type GroupAction, type GroupView, viewGroups } from "../groups/observe.js";
import { revisionHash } from "../groups/revision.js";
import type { KubeApi } from "../kube/api.js";
import type { Caches } from "../kube/caches.js";
import type { Clock } from "../kube/workqueue.js";
import type { ReconcilerMetrics } from "../metrics/reconciler-metrics.js";
import { type GroupSignals, HUNG_KINDS } from "../nats/group-signals.js";
import { type AutoPlanner, PlanError, resolvePlan } from "../plan/resolve-plan.js";
import { planRollout } from "../rollout/rollout.js";
import { type Admission, CapacityModel, NodeCapacity } from "../scheduling/capacity.js";
import { type DrainClient, type DrainProgress, drainStep } from "./drain.js";
import type { EventRecorder } from "./events.js";
import { type GroupInPass, GroupSteps, Pass, RECREATE_REASONS } from "./group-steps.js";
import { OwnedObjects } from "./owned-objects.js";
import { PendingCreates } from "./pending-creates.js";
import { conditionsFor, planFailedConditions, type Summary } from "./status.js";
import { carriedStatus, type StatusDraft, StatusWriter } from "./status-writer.js";

export interface ReconcilerSettings {
  readonly natsUrl: string;
  readonly gangTimeoutMs: number;
  readonly gangBackoffBaseMs: number;
  readonly gangBackoffMaxMs: number;
  /** How soon a group that found no room is looked at again, besides node and pod events. */
  readonly capacityRetryMs: number;
  /** Scheduler name for PodGroup-aware scheduling, set only when the PodGroup API exists. */
  readonly podGroupScheduler: string | undefined;
  /** A group with a pod on a node NotReady this long is recreated elsewhere. */
  readonly nodeNotReadyGraceMs: number;
}

/** What the reconciler asks of the workers, over NATS (controller-nats.ts). */
export interface Workers extends DrainClient {
  /** What one group's workers report; `observed` is false when none of its pods has spoken. */
  signals(pods: readonly V1Pod[]): GroupSignals;
}

export interface ReconcilerDeps {
  readonly api: KubeApi;
  readonly caches: Caches;
  readonly settings: ReconcilerSettings;
  readonly clock: Clock;
  readonly log: Logger;
  readonly autoPlanner: AutoPlanner;
  readonly events: EventRecorder;
  readonly workers: Workers;
  readonly metrics: ReconcilerMetrics;
}

export interface ReconcileResult {
  /** Look at the key again after this long even if nothing changes. */
  readonly requeueAfterMs?: number;
}

// Pods the controller created that the informer has not delivered yet count as present this long at most.
const PENDING_CREATE_TTL_MS = 60_000;
const DELETED_BY_US_TTL_MS = 600_000;

/** Turns one ModelDeployment into its groups, Services and status. Safe to call repeatedly. */
export class Reconciler {
  private readonly pending = new PendingCreates(PENDING_CREATE_TTL_MS);
  private readonly owned: OwnedObjects;
  private readonly status: StatusWriter;
  // Pods this controller deleted (uid → when), so finishing its own teardown is not reported as a failure.
  private readonly deletedByUs = new Map<string, number>();

  private readonly steps: GroupSteps;
  /** Deployments (uid) whose workers have reported over NATS: their groups must say they serve. */
  private readonly reporting = new Set<string>();
  /** The nodes' side of admission, until the nodes change (Caches.nodesVersion) or another resource is asked for. */
  private nodeCapacity: { version: number; nodes: NodeCapacity } | undefined;

  constructor(private readonly deps: ReconcilerDeps) {
    this.owned = new OwnedObjects(deps.api, deps.caches, deps.settings.gangTimeoutMs);
    this.status = new StatusWriter(deps.api, deps.clock);
    this.steps = new GroupSteps({
      events: deps.events,
      settings: deps.settings,
      admit: (pass) => this.admit(pass),
      createGroup: (pass, replica, domain, view) => this.createGroup(pass, replica, domain, view),
      deleteGroup: (view, force) => this.deleteGroup(view, force),
      teardownInProgress: (view) => this.teardownInProgress(view),
      drain: (pass, view, prev) => this.drain(pass, view, prev),
      recreated: (reason) => deps.metrics.groupRecreations.inc({ reason }),
      drained: (result, seconds) => {
        deps.metrics.drains.inc({ result });
        if (seconds !== undefined) deps.metrics.drainSeconds.observe(seconds);
      },
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    const md = this.status.freshest(key, this.deps.caches.getDeployment(namespace, name));
    // Deleted: owner references let the garbage collector remove pods, Services and the Secret.
    if (!md || md.metadata.deletionTimestamp) return {};
    const parsed = modelDeploymentSpecSchema.safeParse(md.spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const message = `spec.${issue?.path.join(".")}: ${issue?.message}`;
      await this.status.write(md, {
        ...carriedStatus(md),
        conditionsInput: planFailedConditions(REASONS.invalidSpec, message),
      });
      return {};
    }
    const spec = parsed.data;
    let plan: PlanStatus;
    try {
      plan = resolvePlan(spec, this.deps.autoPlanner);
    } catch (err) {
      if (!(err instanceof PlanError)) throw err;
      await this.status.write(md, {
        ...carriedStatus(md),
        conditionsInput: planFailedConditions(REASONS.planFailed, err.message),
      });
      return {};
    }
    const revision = revisionHash(spec, plan);
    // Before any pod that mounts it; once per deployment (remembered), and only where stages tunnel.
    if (needsGroupToken(plan)) await this.owned.ensureTunnelSecret(md, usesTunnel(spec, plan));
    return await this.reconcileGroups(md, spec, plan, revision);
  }

  private async reconcileGroups(
    md: ModelDeployment,
    spec: ModelDeploymentSpec,
    plan: PlanStatus,
    revision: string,
  ): Promise<ReconcileResult> {
    const { namespace, name } = md.metadata;
    const pass = new Pass(md, spec, plan, revision, this.deps.clock.now());
    const pods = this.deps.caches.podsOf(namespace, name);
    const views = viewGroups(this.pending.withPending(namespace, name, pods, pass.nowMs));
    const previous = new Map((md.status?.groups ?? []).map((g) => [g.replica, g]));
    const signals = new Map([...views].map(([i, v]) => [i, this.deps.workers.signals(v.pods)] as const));
    // Once this deployment's workers are known to report over NATS (now, or in the status an
    // earlier pass wrote), a group is available only while its head reports ready: KWOK or a
    // fast kubelet can mark a new pod Ready before its worker has loaded anything.
    if ([...signals.values()].some((s) => s.observed) || (md.status?.groups ?? []).some((g) => g.stages)) {
      this.reporting.add(md.metadata.uid);
    }
    const reports = this.reporting.has(md.metadata.uid);
    const decide = (index: number, view: GroupView | undefined): GroupAction => {
      const action = decideGroup(view, this.gangSettings(plan, pass.nowMs, previous.get(index)));
      const heard = signals.get(index);
      if (action.kind === "running" && action.available && reports && !heard?.serving) {
        return { kind: "running", available: false };
      }
      return action;
    };
    const decisions = new Map([...views].map(([i, v]) => [i, decide(i, v)] as const));
    const rollout = planRollout({
      replicas: spec.replicas,
      maxSurge: spec.rollout.maxSurge,
      maxUnavailable: spec.rollout.maxUnavailable,
      targetRevision: revision,
      groups: [...views.values()].map((v) => {
        const d = decisions.get(v.replica);
        return {
          index: v.replica,
          revision: v.revision,
          exists: v.pods.length > 0,
          available: d?.kind === "running" && d.available,
        };
      }),
    });

    for (const [index, view] of views) {
      if (index >= rollout.desiredGroups) {
        await this.steps.removeSurplus(pass, view, previous.get(index), rollout.desiredGroups);
      }
    }
    for (let index = 0; index < rollout.desiredGroups; index++) {
      const view = views.get(index);
      const group: GroupInPass = {
        index,
        view,
        prev: previous.get(index),
        base: {
          replica: index,
          revision: view?.revision ?? revision,
          boundPods: view?.bound ?? 0,
          readyPods: view?.ready ?? 0,
        },
      };
      await this.stepGroup(
        pass,
        group,
        decisions.get(index) ?? decide(index, view),
        rollout.replace,
        signals.get(index),
      );
    }
    for (const g of pass.groups) {
      // Stage states and the newest lifecycle event, as the group's workers report them over NATS.
      const heard = signals.get(g.replica);
      if (!heard?.observed) continue;
      g.stages = [...heard.stages];
      if (heard.lastTransition) g.lastTransition = heard.lastTransition;
    }

    if (!md.status && pass.created.length > 0) {
      // A new deployment's first pass creates its pods and stops: its Service and first status
      // come in the next pass, queued behind other new deployments' first passes, so in a
      // burst every group reaches the scheduler before the API server spends time on those.
      await pass.settle();
      this.deps.events.normal(md, REASONS.groupCreated, pass.created.join("; "));
      return { requeueAfterMs: 0 };
    }
    // The Services and the pods the pass decided on, all at once; status last.
    await Promise.all([this.owned.ensureServices(md), pass.settle()]);
    if (pass.created.length > 0) this.deps.events.normal(md, REASONS.groupCreated, pass.created.join("; "));
    await this.status.write(md, this.passStatus(pass, rollout.rolling));
    const requeueAfterMs = pass.requeueAfterMs;
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  /**
   * Which step a group takes this pass.
   * Case 1: running with a hung stage (its engine fails its probe, or its
   *   heartbeats stopped while its pod runs): recreate the whole group.
   * Case 2: a pod on a node NotReady for longer than the grace period: recreate elsewhere.
   * Case 3: outdated and chosen by the rollout: drain its head, then replace it.
   * Case 4: running, not chosen, but its head drains (for a rollout that no
   *   longer applies): recreate it, as a draining head serves nothing.
   * Case 5: outdated, running or waiting, not its turn yet: keep it serving.
   * Case 6: no group, or pods missing: admit and create.
   * Case 7: terminating, backing off or being bound: wait.
   * Case 8: a member failed: recreate the whole group.
   * Case 9: not bound within the gang timeout: delete and retry after a backoff.
   * Case 10: running: report it (Available once every pod is ready and, where
   *   its workers report over NATS, its head serves).
   */
  private async stepGroup(
    pass: Pass,
    group: GroupInPass,
    action: GroupAction,
    replace: readonly number[],
    heard: GroupSignals | undefined,
  ): Promise<void> {
    const { view } = group;
    const chosen = replace.includes(group.index);
    if (view && action.kind === "running" && heard?.hung) {
      const silent = heard.hung.kind === HUNG_KINDS.silence;
      return this.steps.recreate(
        pass,
        { ...group, view },
        {
          reason: silent ? RECREATE_REASONS.silent : RECREATE_REASONS.hung,
          eventReason: REASONS.groupHung,
          message: heard.hung.message,
        },
      );
    }
    if (view && (action.kind === "running" || action.kind === "wait")) {
      const lost = lostNode(
        view,
        (name) => this.deps.caches.nodes.get(name),
        pass.nowMs,
        this.deps.settings.nodeNotReadyGraceMs,
      );
      if (lost?.kind === "lost") {
        return this.steps.recreate(
          pass,
          { ...group, view },
          {
            reason: RECREATE_REASONS.nodeNotReady,
            eventReason: REASONS.nodeNotReady,
            message: lost.message,
            force: lost.pods,
          },
        );
      }
      if (lost?.kind === "grace") pass.requeueIn(lost.retryAtMs - pass.nowMs);
    }
    if (view && chosen) return this.steps.replaceOutdated(pass, { ...group, view });
    if (view && action.kind === "running" && heard?.observed && heard.headState === "draining") {
      return this.steps.recreate(
        pass,
        { ...group, view },
        {
          reason: RECREATE_REASONS.strayDrain,
          eventReason: REASONS.groupFailed,
          message: "its head is draining though no rollout or scale-down removes the group",
        },
      );
    }
    if (view && view.revision !== pass.revision && (action.kind === "running" || action.kind === "wait")) {
      return this.steps.keepOutdated(pass, group, action);
    }
    switch (action.kind) {
      case "create":
      case "createMissing":
        return this.steps.create(pass, group, action.kind === "createMissing");
      case "wait":
        return this.steps.wait(pass, group, action.reason);
      case "recreate":
        return this.steps.recreateFailed(pass, group, action.why);
      case "gangTimeout":
        return this.steps.retryAfterGangTimeout(pass, group, action.why);
      case "running":
        return this.steps.reportRunning(pass, group, action.available);
    }
  }

  /** The status a pass ends with: counts of the wanted groups, conditions from their cases. */
  private passStatus(pass: Pass, rolling: boolean): StatusDraft {
    const { spec, plan, revision, groups } = pass;
    const summary: Summary = {
      replicas: spec.replicas,
      maxUnavailable: spec.rollout.maxUnavailable,
      groups,
      rolling,
      unscheduled: pass.unscheduled,
      failed: pass.failed,
    };
    const wanted = groups.filter((g) => g.replica < spec.replicas);
    return {
      plan,
      revision,
      replicas: wanted.filter((g) => g.boundPods > 0 || g.phase === "Scheduling").length,
      readyReplicas: wanted.filter((g) => g.phase === "Available").length,
      updatedReplicas: wanted.filter(
        (g) => g.revision === revision && (g.phase === "Available" || g.phase === "Running"),
      ).length,
      selector: `${LABELS.deployment}=${pass.md.metadata.name},${LABELS.stage}=0`,
      groups,
      conditionsInput: conditionsFor(plan, summary),
    };
  }

  private gangSettings(plan: PlanStatus, nowMs: number, prev: GroupStatus | undefined) {
    const retry = prev?.retryAfter ? Date.parse(prev.retryAfter) : Number.NaN;
    return {
      stages: plan.pp,
      nowMs,
      gangTimeoutMs: this.deps.settings.gangTimeoutMs,
      retryAfterMs: Number.isFinite(retry) ? retry : undefined,
    };
  }

  /**
   * Admission for one group against the GPUs free now, counting pods created
   * but not yet seen through the watch. It runs without an await between
   * admission and the bookkeeping of the pods it admits (createGroup records
   * them first), so concurrent reconciles never hand the same GPUs to two groups.
   */
  private admit(pass: Pass): Admission {
    const { spec, plan } = pass;
    const now = this.deps.clock.now();
    const pods = this.deps.caches.pods;
    const cached = pods.list();
    const pending = this.pending.all((key) => {
      const [namespace = "", name = ""] = key.split("/");
      return pods.get(name, namespace) !== undefined;
    }, now);
    return new CapacityModel(this.nodesFor(spec.gpu.resourceName), [...cached, ...pending]).admit({
      pods: plan.pp,
      gpusPerPod: stageWidth(plan.tp, plan.ep),
      resourceName: spec.gpu.resourceName,
      topologyKey: spec.topologyKey,
      nodeSelector: spec.gpu.nodeSelector,
      tolerations: spec.gpu.tolerations,
    });
  }

  private nodesFor(resourceName: string): NodeCapacity {
    const version = this.deps.caches.nodesVersion;
    const kept = this.nodeCapacity;
    if (kept && kept.version === version && kept.nodes.resourceName === resourceName) return kept.nodes;
    const nodes = new NodeCapacity(this.deps.caches.nodes.list(), resourceName);
    this.nodeCapacity = { version, nodes };
    return nodes;
  }

  private async createGroup(
    pass: Pass,
    replica: number,
    domain: { name: string; nodes?: readonly string[] },
    view: GroupView | undefined,
  ): Promise<void> {
    const { md, plan, revision } = pass;
    const scheduler = this.deps.settings.podGroupScheduler;
    const existing = new Set((view?.pods ?? []).map((p) => p.metadata?.name));
    const pods = groupPods(md, plan, {
      replica,
      revision,
      domain: domain.name,
      ...(domain.nodes ? { domainNodes: domain.nodes } : {}),
      natsUrl: this.deps.settings.natsUrl,
      ...(scheduler ? { podGroupScheduler: scheduler } : {}),
    }).filter((p) => !existing.has(p.metadata?.name));
    // Recorded before the first await: the next admission counts these GPUs as taken, and the
    // next pass sees these pods even before the watch delivers them.
    // A failure forgets them all: a pod that was created after all shows up through the watch.
    this.pending.add(pods, this.deps.clock.now());
    try {
      if (scheduler) await this.owned.ensurePodGroup(md, plan, replica);
      await Promise.all(pods.map((pod) => this.deps.api.createPod(pod)));
    } catch (err) {
      for (const pod of pods) this.pending.drop(pod);
      throw err;
    }
  }

  /** One pass of draining a group's head before its pods are deleted. */
  private async drain(pass: Pass, view: GroupView, prev: GroupStatus | undefined): Promise<DrainProgress> {
    const heard = this.deps.workers.signals(view.pods);
    const since = prev?.drainingSince ? Date.parse(prev.drainingSince) : Number.NaN;
    return await drainStep(this.deps.workers, {
      head: { deployment: pass.md.metadata.name, replica: view.replica, stage: 0 },
      headPod: heard.headPod,
      observed: heard.observed,
      drainingSinceMs: Number.isFinite(since) ? since : undefined,
      nowMs: pass.nowMs,
      timeoutMs: pass.spec.rollout.drainTimeoutSeconds * 1000,
    });
  }

  /**
   * Deletes every pod of a group that is not already terminating; pods named in
   * `force` go without a grace period (their node cannot confirm). True if it deleted any.
   */
  private async deleteGroup(view: GroupView, force?: ReadonlySet<string>): Promise<boolean> {
    const live = view.pods.filter((p) => !p.metadata?.deletionTimestamp);
    await Promise.all(
      live.map(async (p) => {
        await this.deps.api.deletePod(p, force?.has(p.metadata?.name ?? "") ?? false);
        if (p.metadata?.uid) this.deletedByUs.set(p.metadata.uid, this.deps.clock.now());
      }),
    );
    return live.length > 0;
  }

  /** Every terminating pod of the group is one this controller deleted. */
  private teardownInProgress(view: GroupView): boolean {
    const now = this.deps.clock.now();
    for (const [uid, at] of this.deletedByUs)
      if (now - at > DELETED_BY_US_TTL_MS) this.deletedByUs.delete(uid);
    const terminating = view.pods.filter((p) => !!p.metadata?.deletionTimestamp);
    return terminating.length > 0 && terminating.every((p) => this.deletedByUs.has(p.metadata?.uid ?? ""));
  }
}
