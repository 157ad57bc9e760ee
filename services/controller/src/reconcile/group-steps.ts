/**
 * One step per case a group can be in during a reconcile pass. Each step acts
 * (creates or deletes pods, records events) and reports the group's status
 * and what the pass must know: a reason it is unscheduled or failed, and when
 * to look again. The reconciler decides which case applies (reconciler.ts).
 */
import type { GroupStatus, ModelDeployment, ModelDeploymentSpec, PlanStatus } from "@strata/core";
import { REASONS } from "@strata/core";
import { type GroupAction, type GroupView, gangBackoffMs } from "../groups/observe.js";
import type { Admission } from "../scheduling/capacity.js";
import { DRAIN_POLL_MS, type DrainProgress, type DrainResult } from "./drain.js";
import type { EventRecorder } from "./events.js";
import { carry, domainOf, withDomain } from "./group-status.js";
import type { Summary } from "./status.js";

/** Why a running group was torn down and recreated; a label of strata_controller_group_recreations_total. */
export const RECREATE_REASONS = {
  failed: "failed",
  hung: "hung",
  silent: "silent",
  nodeNotReady: "node_not_ready",
  strayDrain: "stray_drain",
} as const;
export type RecreateReason = (typeof RECREATE_REASONS)[keyof typeof RECREATE_REASONS];

/** What the pass gathers across its groups before it writes status. */
export class Pass {
  readonly groups: GroupStatus[] = [];
  readonly unscheduled: Summary["unscheduled"][number][] = [];
  readonly failed: Summary["failed"][number][] = [];
  readonly #requeueMs: number[] = [];
  readonly #work: Promise<unknown>[] = [];
  /** Groups created this pass, one line each: reported in one GroupCreated event, not one per group. */
  readonly created: string[] = [];

  constructor(
    readonly md: ModelDeployment,
    readonly spec: ModelDeploymentSpec,
    readonly plan: PlanStatus,
    /** The revision every group should run. */
    readonly revision: string,
    readonly nowMs: number,
  ) {}

  requeueIn(ms: number): void {
    if (Number.isFinite(ms)) this.#requeueMs.push(Math.max(ms, 100));
  }

  /**
   * API calls the pass started without waiting for them (pod creates), so the
   * groups of a pass are created together; the reconciler awaits them all
   * before it writes status, and a failure fails the pass.
   */
  defer(work: Promise<unknown>): void {
    // Handled now, so a failure while later steps await is not an unhandled
    // rejection; settle() still rejects with it.
    work.catch(() => undefined);
    this.#work.push(work);
  }

  async settle(): Promise<void> {
    await Promise.all(this.#work.splice(0));
  }

  /** The soonest look-again this pass asked for. */
  get requeueAfterMs(): number | undefined {
    return this.#requeueMs.length > 0 ? Math.min(...this.#requeueMs) : undefined;
  }
}

/** One group as a step sees it. */
export interface GroupInPass {
  readonly index: number;
  readonly view: GroupView | undefined;
  /** Its status from the last pass, for carried fields (attempts, retryAfter, message). */
  readonly prev: GroupStatus | undefined;
  /** Status fields every case reports. */
  readonly base: Pick<GroupStatus, "replica" | "revision" | "boundPods" | "readyPods">;
}

/** What the steps need of the controller. */
export interface GroupStepsDeps {
  readonly events: EventRecorder;
  readonly settings: {
    readonly gangTimeoutMs: number;
    readonly gangBackoffBaseMs: number;
    readonly gangBackoffMaxMs: number;
    readonly capacityRetryMs: number;
  };
  /** Admission and its bookkeeping run without an await in between (see Reconciler.admit). */
  admit(pass: Pass): Admission;
  createGroup(
    pass: Pass,
    replica: number,
    domain: { name: string; nodes?: readonly string[] },
    view: GroupView | undefined,
  ): Promise<void>;
  /** Deletes the group's live pods (`force`: these pod names with no grace period); true if it deleted any. */
  deleteGroup(view: GroupView, force?: ReadonlySet<string>): Promise<boolean>;
  /** Every terminating pod of the group is one this controller deleted. */
  teardownInProgress(view: GroupView): boolean;
  /** One pass of draining the group's head before it is deleted (drain.ts). */
  drain(pass: Pass, view: GroupView, prev: GroupStatus | undefined): Promise<DrainProgress>;
  /** Counts a group torn down for a reason other than a rollout or scale-down. */
  recreated(reason: RecreateReason): void;
  /** Counts a finished drain and how long it took (undefined: it never started). */
  drained(result: DrainResult, seconds: number | undefined): void;
}

export class GroupSteps {
  constructor(private readonly deps: GroupStepsDeps) {}

  /** Scale-down or surge release: the group is past the desired count; its head drains first. */
  async removeSurplus(
    pass: Pass,
    view: GroupView,
    prev: GroupStatus | undefined,
    desiredGroups: number,
  ): Promise<void> {
    const base = {
      replica: view.replica,
      revision: view.revision ?? pass.revision,
      boundPods: view.bound,
      readyPods: view.ready,
    };
    if (!(await this.#drained(pass, view, prev, base))) return;
    if (await this.deps.deleteGroup(view)) {
      this.deps.events.normal(
        pass.md,
        REASONS.groupDeleted,
        `group ${view.replica}: removed (scaled to ${desiredGroups} groups)`,
      );
    }
  }

  /** The rollout chose this outdated group to be replaced now: its head drains, then the group goes. */
  async replaceOutdated(pass: Pass, g: GroupInPass & { view: GroupView }): Promise<void> {
    if (!(await this.#drained(pass, g.view, g.prev, g.base))) return;
    if (await this.deps.deleteGroup(g.view)) {
      this.deps.events.normal(
        pass.md,
        REASONS.rollingUpdate,
        `group ${g.index}: replacing revision ${g.view.revision ?? "mixed"} with ${pass.revision}`,
      );
    }
    pass.groups.push({ ...g.base, phase: "Recreating", message: `rolling to revision ${pass.revision}` });
  }

  /**
   * A running group that must go for a reason its pods do not show (a hung
   * stage, a node gone NotReady, a head draining for a rollout that no longer
   * applies): the whole group is deleted and comes back.
   */
  async recreate(
    pass: Pass,
    g: GroupInPass & { view: GroupView },
    why: { reason: RecreateReason; eventReason: string; message: string; force?: ReadonlySet<string> },
  ): Promise<void> {
    if (await this.deps.deleteGroup(g.view, why.force)) {
      this.deps.recreated(why.reason);
      this.deps.events.warning(
        pass.md,
        why.eventReason,
        `group ${g.index}: ${why.message}; recreating the whole group`,
      );
    }
    pass.failed.push({ replica: g.index, message: why.message, reason: why.eventReason });
    pass.groups.push({ ...g.base, phase: "Recreating", message: why.message, ...carry(g.prev) });
  }

  /** Drains the group's head; true once its pods may be deleted, otherwise it reports Draining. */
  async #drained(
    pass: Pass,
    view: GroupView,
    prev: GroupStatus | undefined,
    base: GroupInPass["base"],
  ): Promise<boolean> {
    if (view.pods.every((p) => !!p.metadata?.deletionTimestamp)) return true;
    const progress = await this.deps.drain(pass, view, prev);
    if (progress.kind === "wait") {
      pass.groups.push({
        ...base,
        phase: "Draining",
        drainingSince: new Date(progress.drainingSinceMs).toISOString(),
        message: progress.message,
      });
      pass.requeueIn(DRAIN_POLL_MS);
      return false;
    }
    const since = prev?.drainingSince ? Date.parse(prev.drainingSince) : Number.NaN;
    this.deps.drained(progress.result, Number.isFinite(since) ? (pass.nowMs - since) / 1000 : undefined);
    return true;
  }

  /** Outdated and waiting for its turn in the rollout: it keeps serving. */
  keepOutdated(pass: Pass, g: GroupInPass, action: GroupAction): void {
    const phase =
      action.kind === "running" ? (action.available ? "Available" : "Running") : ("Scheduling" as const);
    pass.groups.push({ ...g.base, phase, message: `waiting to roll to ${pass.revision}` });
  }

  /** No group, or one missing pods: admit it into one topology domain, then create its pods. */
  create(pass: Pass, g: GroupInPass, missingOnly: boolean): void {
    const existingDomain = g.view ? domainOf(g.view) : undefined;
    const admission = existingDomain
      ? ({ fits: true, domain: existingDomain } as const)
      : this.deps.admit(pass);
    if (!admission.fits) {
      pass.unscheduled.push({
        replica: g.index,
        reason: REASONS.insufficientCapacity,
        message: admission.reason,
      });
      pass.groups.push({ ...g.base, phase: "Pending", message: admission.reason, ...carry(g.prev) });
      pass.requeueIn(this.deps.settings.capacityRetryMs);
      return;
    }
    // Admission and its bookkeeping happened now; the pod creates run with the rest of the pass.
    const domain = {
      name: admission.domain,
      ...("domainNodes" in admission ? { nodes: admission.domainNodes } : {}),
    };
    pass.defer(this.deps.createGroup(pass, g.index, domain, g.view));
    if (!missingOnly) {
      pass.created.push(
        `group ${g.index}: ${pass.plan.pp} pods in ${pass.spec.topologyKey}=${admission.domain}`,
      );
    }
    pass.groups.push({
      ...g.base,
      revision: pass.revision,
      phase: "Scheduling",
      domain: admission.domain,
      ...carry(g.prev),
    });
    pass.requeueIn(this.deps.settings.gangTimeoutMs);
  }

  /** Terminating, backing off after a gang timeout, or being bound: nothing to do yet. */
  wait(pass: Pass, g: GroupInPass, reason: "terminating" | "backoff" | "binding"): void {
    const phase = reason === "terminating" ? "Recreating" : reason === "backoff" ? "Backoff" : "Scheduling";
    pass.groups.push({
      ...g.base,
      phase,
      ...withDomain(g.view),
      ...carry(g.prev),
      ...(g.prev?.message && phase !== "Scheduling" ? { message: g.prev.message } : {}),
      ...(g.prev?.reason && phase === "Backoff" ? { reason: g.prev.reason } : {}),
    });
    if (reason === "backoff" && g.prev?.retryAfter)
      pass.requeueIn(Date.parse(g.prev.retryAfter) - pass.nowMs);
    if (reason === "binding" && g.view?.createdAtMs !== undefined) {
      pass.requeueIn(g.view.createdAtMs + this.deps.settings.gangTimeoutMs - pass.nowMs);
    }
    if (reason === "backoff" || reason === "binding") {
      pass.unscheduled.push({
        replica: g.index,
        // A group backs off after gang timeouts or after failing before it was ever Available.
        reason: reason === "backoff" ? (g.prev?.reason ?? REASONS.gangTimeout) : REASONS.groupCreated,
        message: g.prev?.message ?? "pods are being bound",
      });
    }
  }

  /** A member failed, ended or vanished: the whole group goes down and comes back. */
  async recreateFailed(pass: Pass, g: GroupInPass, why: string): Promise<void> {
    if (g.view && this.deps.teardownInProgress(g.view)) {
      // Finishing a teardown this controller started (rollout, gang timeout, failure): not a new failure.
      await this.deps.deleteGroup(g.view);
      pass.groups.push({
        ...g.base,
        phase: "Recreating",
        ...(g.prev?.message ? { message: g.prev.message } : {}),
        ...carry(g.prev),
      });
      return;
    }
    if (g.view && (await this.deps.deleteGroup(g.view))) this.deps.recreated(RECREATE_REASONS.failed);
    // A group that fails again before it was ever Available (a missing model,
    // a bad setting) backs off, capped, instead of crash-looping its GPUs.
    const attempts = (g.prev?.attempts ?? 0) + 1;
    const { gangBackoffBaseMs, gangBackoffMaxMs } = this.deps.settings;
    const backoff = attempts > 1 ? gangBackoffMs(attempts - 1, gangBackoffBaseMs, gangBackoffMaxMs) : 0;
    const message =
      backoff > 0
        ? `${why}; failed ${attempts} times in a row, retrying in ${Math.round(backoff / 1000)}s`
        : why;
    this.deps.events.warning(
      pass.md,
      REASONS.groupFailed,
      `group ${g.index}: ${message}${backoff > 0 ? "" : "; recreating the whole group"}`,
    );
    pass.failed.push({ replica: g.index, message });
    if (backoff === 0) {
      pass.groups.push({ ...g.base, phase: "Recreating", message, attempts });
      return;
    }
    const retryAfter = new Date(pass.nowMs + backoff).toISOString();
    pass.groups.push({
      ...g.base,
      phase: "Backoff",
      message,
      attempts,
      retryAfter,
      reason: REASONS.groupFailed,
    });
    pass.requeueIn(backoff);
  }

  /** Not fully bound within the gang timeout: delete it and retry after a growing backoff. */
  async retryAfterGangTimeout(pass: Pass, g: GroupInPass, why: string): Promise<void> {
    if (g.view) await this.deps.deleteGroup(g.view);
    const attempts = (g.prev?.attempts ?? 0) + 1;
    const { gangBackoffBaseMs, gangBackoffMaxMs } = this.deps.settings;
    const backoff = gangBackoffMs(attempts, gangBackoffBaseMs, gangBackoffMaxMs);
    const retryAfter = new Date(pass.nowMs + backoff).toISOString();
    const message = `${why}; retrying in ${Math.round(backoff / 1000)}s`;
    this.deps.events.warning(pass.md, REASONS.gangTimeout, `group ${g.index}: ${message}`);
    pass.unscheduled.push({ replica: g.index, reason: REASONS.gangTimeout, message });
    pass.groups.push({
      ...g.base,
      phase: "Backoff",
      attempts,
      retryAfter,
      message,
      reason: REASONS.gangTimeout,
    });
    pass.requeueIn(backoff);
  }

  /** Every pod bound and none failed: Available once all are ready. */
  reportRunning(pass: Pass, g: GroupInPass, available: boolean): void {
    pass.groups.push({
      ...g.base,
      phase: available ? "Available" : "Running",
      ...withDomain(g.view),
      ...(available ? {} : carry(g.prev)),
    });
  }
}
