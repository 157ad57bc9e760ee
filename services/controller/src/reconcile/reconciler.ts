import type { V1Pod } from "@kubernetes/client-node";
import {
  type GroupStatus,
  LABELS,
  type ModelDeployment,
  type ModelDeploymentSpec,
  type ModelDeploymentStatus,
  modelDeploymentSpecSchema,
  type PlanStatus,
  REASONS,
  stageWidth,
} from "@strata/core";
import type { Logger } from "@strata/runtime";
import { groupPods } from "../groups/desired.js";
import { decideGroup, type GroupAction, type GroupView, viewGroups } from "../groups/observe.js";
import { revisionHash } from "../groups/revision.js";
import type { KubeApi } from "../kube/api.js";
import type { Caches } from "../kube/caches.js";
import type { Clock } from "../kube/workqueue.js";
import { type AutoPlanner, PlanError, resolvePlan } from "../plan/resolve-plan.js";
import { planRollout } from "../rollout/rollout.js";
import { type Admission, CapacityModel } from "../scheduling/capacity.js";
import type { EventRecorder } from "./events.js";
import { type GroupInPass, GroupSteps, Pass } from "./group-steps.js";
import { OwnedObjects } from "./owned-objects.js";
import {
  type ConditionInput,
  conditionsFor,
  mergeConditions,
  planFailedConditions,
  type Summary,
  statusFingerprint,
} from "./status.js";

export interface ReconcilerSettings {
  readonly natsUrl: string;
  readonly gangTimeoutMs: number;
  readonly gangBackoffBaseMs: number;
  readonly gangBackoffMaxMs: number;
  /** How soon a group that found no room is looked at again, besides node and pod events. */
  readonly capacityRetryMs: number;
  /** Scheduler name for PodGroup-aware scheduling, set only when the PodGroup API exists. */
  readonly podGroupScheduler: string | undefined;
}

export interface ReconcilerDeps {
  readonly api: KubeApi;
  readonly caches: Caches;
  readonly settings: ReconcilerSettings;
  readonly clock: Clock;
  readonly log: Logger;
  readonly autoPlanner: AutoPlanner;
  readonly events: EventRecorder;
}

export interface ReconcileResult {
  /** Look at the key again after this long even if nothing changes. */
  readonly requeueAfterMs?: number;
}

// Pods the controller created that the informer has not delivered yet; they count against capacity.
const RECENT_CREATE_TTL_MS = 60_000;
const DELETED_BY_US_TTL_MS = 600_000;

/** Turns one ModelDeployment into its groups, Services and status. Safe to call repeatedly. */
export class Reconciler {
  private readonly recentCreates = new Map<string, { pod: V1Pod; atMs: number }>();
  private readonly owned: OwnedObjects;
  // Pods this controller deleted (uid → when), so finishing its own teardown is not reported as a failure.
  private readonly deletedByUs = new Map<string, number>();

  private readonly steps: GroupSteps;

  constructor(private readonly deps: ReconcilerDeps) {
    this.owned = new OwnedObjects(deps.api, deps.caches, deps.settings.gangTimeoutMs);
    this.steps = new GroupSteps({
      events: deps.events,
      settings: deps.settings,
      admit: (pass) => this.admit(pass),
      createGroup: (pass, replica, domain, view) => this.createGroup(pass, replica, domain, view),
      deleteGroup: (view) => this.deleteGroup(view),
      teardownInProgress: (view) => this.teardownInProgress(view),
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    const md = this.deps.caches.getDeployment(namespace, name);
    // Deleted: owner references let the garbage collector remove pods, Services and the Secret.
    if (!md || md.metadata.deletionTimestamp) return {};
    const parsed = modelDeploymentSpecSchema.safeParse(md.spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const message = `spec.${issue?.path.join(".")}: ${issue?.message}`;
      await this.writeStatus(md, {
        ...this.carriedStatus(md),
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
      await this.writeStatus(md, {
        ...this.carriedStatus(md),
        conditionsInput: planFailedConditions(REASONS.planFailed, err.message),
      });
      return {};
    }
    const revision = revisionHash(spec, plan);
    await this.owned.ensureTunnelSecret(md);
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
    const views = viewGroups(this.deps.caches.podsOf(namespace, name));
    const previous = new Map((md.status?.groups ?? []).map((g) => [g.replica, g]));
    const decide = (index: number, view: GroupView | undefined): GroupAction =>
      decideGroup(view, this.gangSettings(plan, pass.nowMs, previous.get(index)));
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
      if (index >= rollout.desiredGroups) await this.steps.removeSurplus(pass, view, rollout.desiredGroups);
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
      await this.stepGroup(pass, group, decisions.get(index) ?? decide(index, view), rollout.replace);
    }

    await this.owned.ensureServices(md, rollout.desiredGroups);
    await this.writeStatus(md, this.passStatus(pass, rollout.rolling));
    const requeueAfterMs = pass.requeueAfterMs;
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  /**
   * Which step a group takes this pass.
   * Case 1: outdated and chosen by the rollout: replace it.
   * Case 2: outdated, running or waiting, not its turn yet: keep it serving.
   * Case 3: no group, or pods missing: admit and create.
   * Case 4: terminating, backing off or being bound: wait.
   * Case 5: a member failed: recreate the whole group.
   * Case 6: not bound within the gang timeout: delete and retry after a backoff.
   * Case 7: running: report it (Available once every pod is ready).
   */
  private async stepGroup(
    pass: Pass,
    group: GroupInPass,
    action: GroupAction,
    replace: readonly number[],
  ): Promise<void> {
    const { view } = group;
    if (view && replace.includes(group.index)) return this.steps.replaceOutdated(pass, { ...group, view });
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
    const cached = this.deps.caches.pods.list();
    const seen = new Set(cached.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
    const pending: V1Pod[] = [];
    for (const [key, entry] of this.recentCreates) {
      if (seen.has(key) || now - entry.atMs > RECENT_CREATE_TTL_MS) this.recentCreates.delete(key);
      else pending.push(entry.pod);
    }
    return new CapacityModel(
      this.deps.caches.nodes.list(),
      [...cached, ...pending],
      spec.gpu.resourceName,
    ).admit({
      pods: plan.pp,
      gpusPerPod: stageWidth(plan.tp, plan.ep),
      resourceName: spec.gpu.resourceName,
      topologyKey: spec.topologyKey,
      nodeSelector: spec.gpu.nodeSelector,
      tolerations: spec.gpu.tolerations,
    });
  }

  private async createGroup(
    pass: Pass,
    replica: number,
    domain: string,
    view: GroupView | undefined,
  ): Promise<void> {
    const { md, plan, revision } = pass;
    const scheduler = this.deps.settings.podGroupScheduler;
    const existing = new Set((view?.pods ?? []).map((p) => p.metadata?.name));
    const pods = groupPods(md, plan, {
      replica,
      revision,
      domain,
      natsUrl: this.deps.settings.natsUrl,
      ...(scheduler ? { podGroupScheduler: scheduler } : {}),
    }).filter((p) => !existing.has(p.metadata?.name));
    // Recorded before the first await: the next admission counts these GPUs as taken.
    const atMs = this.deps.clock.now();
    for (const pod of pods)
      this.recentCreates.set(`${pod.metadata?.namespace}/${pod.metadata?.name}`, { pod, atMs });
    if (scheduler) await this.owned.ensurePodGroup(md, plan, replica);
    await Promise.all(pods.map((pod) => this.deps.api.createPod(pod)));
  }

  /** Deletes every pod of a group that is not already terminating; true if it deleted any. */
  private async deleteGroup(view: GroupView): Promise<boolean> {
    const live = view.pods.filter((p) => !p.metadata?.deletionTimestamp);
    await Promise.all(
      live.map(async (p) => {
        await this.deps.api.deletePod(p);
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

  private carriedStatus(md: ModelDeployment): Omit<StatusDraft, "conditionsInput"> {
    const s = md.status;
    return {
      ...(s?.plan ? { plan: s.plan } : {}),
      ...(s?.revision ? { revision: s.revision } : {}),
      replicas: s?.replicas ?? 0,
      readyReplicas: s?.readyReplicas ?? 0,
      updatedReplicas: s?.updatedReplicas ?? 0,
      ...(s?.selector ? { selector: s.selector } : {}),
      ...(s?.groups ? { groups: s.groups } : {}),
    };
  }

  /** Status is written last, and only when it changed; a conflict propagates and requeues the key. */
  private async writeStatus(md: ModelDeployment, draft: StatusDraft): Promise<void> {
    const { conditionsInput, ...rest } = draft;
    const status: ModelDeploymentStatus = {
      observedGeneration: md.metadata.generation,
      ...rest,
      conditions: mergeConditions(
        md.status?.conditions,
        conditionsInput,
        new Date(this.deps.clock.now()).toISOString(),
        md.metadata.generation,
      ),
    };
    if (statusFingerprint(status) === statusFingerprint(md.status)) return;
    await this.deps.api.replaceStatus(md, status);
  }
}

type StatusDraft = Omit<ModelDeploymentStatus, "conditions" | "observedGeneration"> & {
  conditionsInput: ConditionInput[];
};
