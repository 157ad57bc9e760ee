import { InputError } from "@strata/core";

/** Resolved, read-only controller configuration; parsed once at start-up. */
export interface ControllerConfig {
  /** Watch one namespace, or every namespace when undefined. */
  readonly namespace: string | undefined;
  readonly natsUrl: string;
  readonly healthHost: string;
  /** 0 picks a free port. */
  readonly healthPort: number;
  readonly gangTimeoutMs: number;
  readonly gangBackoffBaseMs: number;
  readonly gangBackoffMaxMs: number;
  readonly capacityRetryMs: number;
  readonly resyncMs: number;
  readonly workers: number;
  /** A group with a pod on a node NotReady this long is recreated elsewhere (well under the 300 s taint eviction). */
  readonly nodeNotReadyGraceMs: number;
  readonly podGroupScheduler: string;
  readonly leaderElection:
    | {
        readonly namespace: string;
        readonly name: string;
        readonly identity: string;
        readonly leaseDurationMs: number;
        readonly renewDeadlineMs: number;
        readonly retryPeriodMs: number;
      }
    | undefined;
}

export const DEFAULTS = {
  natsUrl: "nats://127.0.0.1:4222",
  healthHost: "0.0.0.0",
  healthPort: 8081,
  gangTimeoutMs: 120_000,
  gangBackoffBaseMs: 10_000,
  gangBackoffMaxMs: 300_000,
  capacityRetryMs: 30_000,
  resyncMs: 300_000,
  workers: 16,
  nodeNotReadyGraceMs: 60_000,
  podGroupScheduler: "scheduler-plugins-scheduler",
  leaseName: "strata-controller",
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

export type ControllerConfigInput = Partial<Omit<ControllerConfig, "leaderElection">> & {
  leaderElection?: Partial<NonNullable<ControllerConfig["leaderElection"]>> | false;
};

/** Fills defaults and checks the settings that depend on each other. */
export function resolveControllerConfig(input: ControllerConfigInput): ControllerConfig {
  const positive = (field: string, value: number) => {
    if (!(Number.isFinite(value) && value > 0))
      throw new InputError(field, `must be a positive number, got ${value}`);
    return value;
  };
  const le = input.leaderElection;
  let leaderElection: ControllerConfig["leaderElection"];
  if (le) {
    const leaseDurationMs = positive(
      "--lease-duration-seconds",
      le.leaseDurationMs ?? DEFAULTS.leaseDurationMs,
    );
    const renewDeadlineMs = positive(
      "--renew-deadline-seconds",
      le.renewDeadlineMs ?? DEFAULTS.renewDeadlineMs,
    );
    const retryPeriodMs = positive("--retry-period-seconds", le.retryPeriodMs ?? DEFAULTS.retryPeriodMs);
    if (renewDeadlineMs >= leaseDurationMs) {
      throw new InputError("--renew-deadline-seconds", "must be shorter than --lease-duration-seconds");
    }
    if (retryPeriodMs >= renewDeadlineMs) {
      throw new InputError("--retry-period-seconds", "must be shorter than --renew-deadline-seconds");
    }
    if (!le.namespace) throw new InputError("--lease-namespace", "is required with --leader-elect");
    leaderElection = {
      namespace: le.namespace,
      name: le.name ?? DEFAULTS.leaseName,
      identity: le.identity ?? `${process.env.POD_NAME ?? "strata-controller"}-${process.pid}`,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    };
  }
  const gangBackoffBaseMs = positive(
    "--gang-backoff-seconds",
    input.gangBackoffBaseMs ?? DEFAULTS.gangBackoffBaseMs,
  );
  const gangBackoffMaxMs = positive(
    "--gang-backoff-max-seconds",
    input.gangBackoffMaxMs ?? DEFAULTS.gangBackoffMaxMs,
  );
  if (gangBackoffMaxMs < gangBackoffBaseMs) {
    throw new InputError("--gang-backoff-max-seconds", "must be at least --gang-backoff-seconds");
  }
  return {
    namespace: input.namespace || undefined,
    natsUrl: input.natsUrl ?? DEFAULTS.natsUrl,
    healthHost: input.healthHost ?? DEFAULTS.healthHost,
    healthPort: input.healthPort ?? DEFAULTS.healthPort,
    gangTimeoutMs: positive("--gang-timeout-seconds", input.gangTimeoutMs ?? DEFAULTS.gangTimeoutMs),
    gangBackoffBaseMs,
    gangBackoffMaxMs,
    capacityRetryMs: positive("--capacity-retry-seconds", input.capacityRetryMs ?? DEFAULTS.capacityRetryMs),
    resyncMs: positive("--resync-seconds", input.resyncMs ?? DEFAULTS.resyncMs),
    workers: positive("--workers", input.workers ?? DEFAULTS.workers),
    nodeNotReadyGraceMs: positive(
      "--node-not-ready-grace-seconds",
      input.nodeNotReadyGraceMs ?? DEFAULTS.nodeNotReadyGraceMs,
    ),
    podGroupScheduler: input.podGroupScheduler ?? DEFAULTS.podGroupScheduler,
    leaderElection,
  };
}
