import { type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import type { Logger } from "@strata/runtime";
import { isConflict, type KubeApi } from "../kube/api.js";
import type { Clock } from "../kube/workqueue.js";

export interface LeaseSettings {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** How long a holder's claim lasts without renewal; a standby takes over after it. */
  readonly leaseDurationMs: number;
  /** The holder gives up (and the process exits) if it cannot renew for this long. */
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: the
 * holder renews every retry period; a candidate takes the lease when the
 * record has not changed for a lease duration by its own clock (so clock skew
 * between machines does not matter); updates carry the resourceVersion, so of
 * two candidates exactly one wins.
 */
export class LeaderElector {
  private observed: { record: string; atMs: number } | undefined;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly api: KubeApi,
    private readonly settings: LeaseSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    if (settings.renewDeadlineMs >= settings.leaseDurationMs) {
      throw new RangeError("renewDeadlineMs must be shorter than leaseDurationMs");
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until elected, then renews; calls onLost once if renewal fails past the deadline. */
  run(onElected: () => void, onLost: (why: string) => void): void {
    let lastRenewMs = this.clock.now();
    const tick = async () => {
      if (this.stopped) return;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.log.warn("lease update failed", { error: String(err) });
      }
      if (this.stopped) return;
      const now = this.clock.now();
      if (ok) {
        lastRenewMs = now;
        if (!this.leading) {
          this.leading = true;
          this.log.info("elected leader", {
            lease: `${this.settings.namespace}/${this.settings.name}`,
            identity: this.settings.identity,
          });
          onElected();
        }
      } else if (this.leading && now - lastRenewMs > this.settings.renewDeadlineMs) {
        this.leading = false;
        onLost(
          `could not renew lease ${this.settings.namespace}/${this.settings.name} for ${now - lastRenewMs}ms`,
        );
        return;
      }
      this.timer = setTimeout(tick, this.settings.retryPeriodMs);
    };
    void tick();
  }

  /** Stops campaigning; a leader gives the lease up so a standby takes over at once. */
  async stop(release: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (release && this.leading) {
      const lease = await this.api
        .readLease(this.settings.namespace, this.settings.name)
        .catch(() => undefined);
      if (lease?.spec?.holderIdentity === this.settings.identity) {
        lease.spec.holderIdentity = undefined;
        lease.spec.leaseDurationSeconds = 1;
        await this.api.replaceLease(lease).catch(() => undefined);
      }
    }
    this.leading = false;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.settings;
    const now = this.clock.now();
    const nowTime = new V1MicroTime(now);
    const durationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
    const current = await this.api.readLease(namespace, name);
    if (!current) {
      try {
        await this.api.createLease({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: nowTime,
            renewTime: nowTime,
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    }
    const spec = current.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
    if (this.observed?.record !== record) this.observed = { record, atMs: now };
    const holder = spec.holderIdentity;
    const heldByOther = !!holder && holder !== identity;
    const claimMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && now - this.observed.atMs < claimMs) return false;
    const lease: V1Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: nowTime,
        ...(holder !== identity
          ? { acquireTime: nowTime, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    };
    try {
      await this.api.replaceLease(lease);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
