import { Controller, DEFAULTS, loadKubeConfig, resolveControllerConfig } from "@strata/controller";
import type { Command } from "commander";
import { nonNegativeInt, port, positiveInt, positiveNumber } from "../flags.js";

interface ControllerFlags {
  kubeconfig?: string;
  namespace?: string;
  natsUrl: string;
  healthHost: string;
  healthPort: number;
  gangTimeoutSeconds: number;
  gangBackoffSeconds: number;
  capacityRetrySeconds: number;
  nodeNotReadyGraceSeconds: number;
  workers: number;
  leaderElect?: boolean;
  leaseName: string;
  leaseNamespace?: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

/** `strata controller`: the ModelDeployment controller, as the Helm chart runs it. */
export function registerControllerCommand(program: Command): void {
  program
    .command("controller")
    .description("Run the Kubernetes controller that turns ModelDeployments into gang-scheduled shard groups")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option("--namespace <ns>", "watch one namespace (default: all)")
    .option(
      "--nats-url <url>",
      "NATS of the control plane: handed to workers, and the leader consumes their heartbeats and lifecycle events there",
      DEFAULTS.natsUrl,
    )
    .option("--health-host <address>", "address of /healthz, /readyz, /metrics", DEFAULTS.healthHost)
    .option(
      "--health-port <n>",
      "port of /healthz, /readyz, /metrics (0: any)",
      nonNegativeIntPort,
      DEFAULTS.healthPort,
    )
    .option(
      "--gang-timeout-seconds <s>",
      "delete and retry a group not fully bound after this long",
      positiveNumber,
      DEFAULTS.gangTimeoutMs / 1000,
    )
    .option(
      "--gang-backoff-seconds <s>",
      "first retry delay after a gang timeout or a repeated group failure (doubles per attempt)",
      positiveNumber,
      DEFAULTS.gangBackoffBaseMs / 1000,
    )
    .option(
      "--capacity-retry-seconds <s>",
      "recheck a group waiting for GPUs this often",
      positiveNumber,
      DEFAULTS.capacityRetryMs / 1000,
    )
    .option(
      "--node-not-ready-grace-seconds <s>",
      "recreate a group with a pod on a node NotReady this long (well under the 300 s taint eviction)",
      positiveNumber,
      DEFAULTS.nodeNotReadyGraceMs / 1000,
    )
    .option("--workers <n>", "concurrent reconciles", positiveInt, DEFAULTS.workers)
    .option("--leader-elect", "elect a leader on a coordination.k8s.io Lease; only the leader acts")
    .option("--lease-name <name>", "name of the Lease", DEFAULTS.leaseName)
    .option("--lease-namespace <ns>", "namespace of the Lease (required with --leader-elect)")
    .option(
      "--lease-duration-seconds <s>",
      "how long a leader's claim lasts",
      positiveNumber,
      DEFAULTS.leaseDurationMs / 1000,
    )
    .option(
      "--renew-deadline-seconds <s>",
      "a leader that cannot renew this long exits",
      positiveNumber,
      DEFAULTS.renewDeadlineMs / 1000,
    )
    .option(
      "--retry-period-seconds <s>",
      "how often to renew or try to acquire",
      positiveNumber,
      DEFAULTS.retryPeriodMs / 1000,
    )
    .action(async (flags: ControllerFlags) => {
      const config = resolveControllerConfig({
        namespace: flags.namespace,
        natsUrl: flags.natsUrl,
        healthHost: flags.healthHost,
        healthPort: flags.healthPort,
        gangTimeoutMs: flags.gangTimeoutSeconds * 1000,
        gangBackoffBaseMs: flags.gangBackoffSeconds * 1000,
        gangBackoffMaxMs: Math.max(flags.gangBackoffSeconds * 1000, DEFAULTS.gangBackoffMaxMs),
        capacityRetryMs: flags.capacityRetrySeconds * 1000,
        nodeNotReadyGraceMs: flags.nodeNotReadyGraceSeconds * 1000,
        workers: flags.workers,
        leaderElection: flags.leaderElect
          ? {
              namespace: flags.leaseNamespace,
              name: flags.leaseName,
              leaseDurationMs: flags.leaseDurationSeconds * 1000,
              renewDeadlineMs: flags.renewDeadlineSeconds * 1000,
              retryPeriodMs: flags.retryPeriodSeconds * 1000,
            }
          : false,
      });
      const controller = new Controller({ kubeConfig: loadKubeConfig(flags.kubeconfig), config });
      await controller.start();
      process.stderr.write(`strata controller: health and metrics on port ${controller.healthPort}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await controller.stop();
    });
}

function nonNegativeIntPort(value: string): number {
  return value === "0" ? nonNegativeInt(value) : port(value);
}
