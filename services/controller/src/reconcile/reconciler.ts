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
import { groupPods } from "../groups/desired.js";
import { decideGroup, type GroupView, gangBackoffMs, viewGroups } from "../groups/observe.js";
import { revisionHash } from "../groups/revision.js";
import type { KubeApi } from "../kube/api.js";
import type { Caches } from "../kube/caches.js";
import type { Clock } from "../kube/workqueue.js";
import type { Logger } from "../log.js";
import { type AutoPlanner, PlanError, resolvePlan } from "../plan/resolve-plan.js";
import { planRollout } from "../rollout/rollout.js";
import { CapacityModel } from "../scheduling/capacity.js";
import type { EventRecorder } from "./events.js";
import { carry, domainOf, withDomain } from "./group-status.js";
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

  constructor(private readonly deps: ReconcilerDeps) {
    this.owned = new OwnedObjects(deps.api, deps.caches, deps.settings.gangTimeoutMs);
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
    const now = this.deps.clock.now();
    const views = viewGroups(this.deps.caches.podsOf(namespace, name));
    const previous = new Map((md.status?.groups ?? []).map((g) => [g.replica, g]));
    const decisions = new Map(
      [...views].map(([i, v]) => [i, decideGroup(v, this.gangSettings(plan, now, previous.get(i)))] as const),
    );
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

    const groups: GroupStatus[] = [];
    const unscheduled: Summary["unscheduled"][number][] = [];
    const failed: Summary["failed"][number][] = [];
    const requeue: number[] = [];
    // Step: remove groups past the desired count (scale down, surge release).
    for (const [index, view] of views) {
      if (index < rollout.desiredGroups) continue;
      if (await this.deleteGroup(view)) {
        this.deps.events.normal(
          md,
          REASONS.groupDeleted,
          `group ${index}: removed (scaled to ${rollout.desiredGroups} groups)`,
        );
      }
    }

    for (let index = 0; index < rollout.desiredGroups; index++) {
      const view = views.get(index);
      const prev = previous.get(index);
      const base = {
        replica: index,
        revision: view?.revision ?? revision,
        boundPods: view?.bound ?? 0,
        readyPods: view?.ready ?? 0,
      };
      // Step: replace an outdated group as the rollout allows.
      if (view && rollout.replace.includes(index)) {
        if (await this.deleteGroup(view)) {
          this.deps.events.normal(
            md,
            REASONS.rollingUpdate,
            `group ${index}: replacing revision ${view.revision ?? "mixed"} with ${revision}`,
          );
        }
        groups.push({ ...base, phase: "Recreating", message: `rolling to revision ${revision}` });
        continue;
      }
      const decided = decisions.get(index)?.kind;
      if (view && view.revision !== revision && (decided === "running" || decided === "wait")) {
        // Outdated and waiting for its turn in the rollout: leave it running.
        const d = decisions.get(index);
        groups.push({
          ...base,
          phase: d?.kind === "running" ? (d.available ? "Available" : "Running") : "Scheduling",
          message: `waiting to roll to ${revision}`,
        });
        continue;
      }
      const action = decisions.get(index) ?? decideGroup(undefined, this.gangSettings(plan, now, prev));
      switch (action.kind) {
        case "create":
        case "createMissing": {
          // Admission and the bookkeeping of the pods it admits run without an await in
          // between, so concurrent reconciles never hand the same free GPUs to two groups.
          const existingDomain = view ? domainOf(view) : undefined;
          const admission = existingDomain
            ? ({ fits: true, domain: existingDomain } as const)
            : this.capacityModel(spec).admit({
                pods: plan.pp,
                gpusPerPod: stageWidth(plan.tp, plan.ep),
                resourceName: spec.gpu.resourceName,
                topologyKey: spec.topologyKey,
                nodeSelector: spec.gpu.nodeSelector,
                tolerations: spec.gpu.tolerations,
              });
          if (!admission.fits) {
            unscheduled.push({
              replica: index,
              reason: REASONS.insufficientCapacity,
              message: admission.reason,
            });
            groups.push({ ...base, phase: "Pending", message: admission.reason, ...carry(prev) });
            requeue.push(this.deps.settings.capacityRetryMs);
            break;
          }
          await this.createGroup(md, plan, index, revision, admission.domain, view);
          if (action.kind === "create") {
            this.deps.events.normal(
              md,
              REASONS.groupCreated,
              `group ${index}: ${plan.pp} pods in ${spec.topologyKey}=${admission.domain}`,
            );
          }
          groups.push({ ...base, revision, phase: "Scheduling", domain: admission.domain, ...carry(prev) });
          requeue.push(this.deps.settings.gangTimeoutMs);
          break;
        }
        case "wait": {
          const phase =
            action.reason === "terminating"
              ? "Recreating"
              : action.reason === "backoff"
                ? "Backoff"
                : "Scheduling";
          groups.push({
            ...base,
            phase,
            ...withDomain(view),
            ...carry(prev),
            ...(prev?.message && phase !== "Scheduling" ? { message: prev.message } : {}),
          });
          if (action.reason === "backoff" && prev?.retryAfter)
            requeue.push(Date.parse(prev.retryAfter) - now);
          if (action.reason === "binding" && view?.createdAtMs !== undefined) {
            requeue.push(view.createdAtMs + this.deps.settings.gangTimeoutMs - now);
          }
          if (action.reason === "backoff" || action.reason === "binding") {
            unscheduled.push({
              replica: index,
              reason: action.reason === "backoff" ? REASONS.gangTimeout : REASONS.groupCreated,
              message: prev?.message ?? "pods are being bound",
            });
          }
          break;
        }
        case "recreate": {
          if (view && this.teardownInProgress(view)) {
            // Finishing a teardown this controller started (rollout, gang timeout, failure): not a new failure.
            await this.deleteGroup(view);
            groups.push({
              ...base,
              phase: "Recreating",
              ...(prev?.message ? { message: prev.message } : {}),
              ...carry(prev),
            });
            break;
          }
          if (view) await this.deleteGroup(view);
          this.deps.events.warning(
            md,
            REASONS.groupFailed,
            `group ${index}: ${action.why}; recreating the whole group`,
          );
          failed.push({ replica: index, message: action.why });
          groups.push({ ...base, phase: "Recreating", message: action.why, ...carry(prev) });
          break;
        }
        case "gangTimeout": {
          if (view) await this.deleteGroup(view);
          const attempts = (prev?.attempts ?? 0) + 1;
          const backoff = gangBackoffMs(
            attempts,
            this.deps.settings.gangBackoffBaseMs,
            this.deps.settings.gangBackoffMaxMs,
          );
          const retryAfter = new Date(now + backoff).toISOString();
          const message = `${action.why}; retrying in ${Math.round(backoff / 1000)}s`;
          this.deps.events.warning(md, REASONS.gangTimeout, `group ${index}: ${message}`);
          unscheduled.push({ replica: index, reason: REASONS.gangTimeout, message });
          groups.push({ ...base, phase: "Backoff", attempts, retryAfter, message });
          requeue.push(backoff);
          break;
        }
        case "running":
          groups.push({
            ...base,
            phase: action.available ? "Available" : "Running",
            ...withDomain(view),
            ...(action.available ? {} : carry(prev)),
          });
          break;
      }
    }

    await this.owned.ensureServices(md, rollout.desiredGroups);

    const summary: Summary = {
      replicas: spec.replicas,
      maxUnavailable: spec.rollout.maxUnavailable,
      groups,
      rolling: rollout.rolling,
      unscheduled,
      failed,
    };
    const wanted = groups.filter((g) => g.replica < spec.replicas);
    await this.writeStatus(md, {
      plan,
      revision,
      replicas: wanted.filter((g) => g.boundPods > 0 || g.phase === "Scheduling").length,
      readyReplicas: wanted.filter((g) => g.phase === "Available").length,
      updatedReplicas: wanted.filter(
        (g) => g.revision === revision && (g.phase === "Available" || g.phase === "Running"),
      ).length,
      selector: `${LABELS.deployment}=${name},${LABELS.stage}=0`,
      groups,
      conditionsInput: conditionsFor(plan, summary),
    });
    const positive = requeue.filter((ms) => Number.isFinite(ms)).map((ms) => Math.max(ms, 100));
    return positive.length > 0 ? { requeueAfterMs: Math.min(...positive) } : {};
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

  private capacityModel(spec: ModelDeploymentSpec): CapacityModel {
    const now = this.deps.clock.now();
    const cached = this.deps.caches.pods.list();
    const seen = new Set(cached.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
    const pending: V1Pod[] = [];
    for (const [key, entry] of this.recentCreates) {
      if (seen.has(key) || now - entry.atMs > RECENT_CREATE_TTL_MS) this.recentCreates.delete(key);
      else pending.push(entry.pod);
    }
    return new CapacityModel(this.deps.caches.nodes.list(), [...cached, ...pending], spec.gpu.resourceName);
  }

  private async createGroup(
    md: ModelDeployment,
    plan: PlanStatus,
    replica: number,
    revision: string,
    domain: string,
    view: GroupView | undefined,
  ): Promise<void> {
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
