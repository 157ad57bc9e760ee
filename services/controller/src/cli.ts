import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { InputError } from "@strata/core";
import { type ControllerConfig, DEFAULTS, resolveControllerConfig } from "./config.js";
import { Controller } from "./controller.js";

export const CONTROLLER_USAGE = `Usage: strata controller [options]

Runs the ModelDeployment controller against the cluster of the current kubeconfig
(or the in-cluster ServiceAccount).

Options:
  --kubeconfig PATH               kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --namespace NS                  watch one namespace (default: all)
  --nats-url URL                  NATS URL given to workers (default ${DEFAULTS.natsUrl})
  --health-port N                 port of /healthz, /readyz, /metrics (default ${DEFAULTS.healthPort}; 0 = any)
  --health-host HOST              address to bind (default ${DEFAULTS.healthHost})
  --gang-timeout-seconds N        delete and retry a group not fully bound after N s (default ${DEFAULTS.gangTimeoutMs / 1000})
  --gang-backoff-seconds N        first retry delay after a gang timeout (default ${DEFAULTS.gangBackoffBaseMs / 1000})
  --capacity-retry-seconds N      recheck a group waiting for capacity (default ${DEFAULTS.capacityRetryMs / 1000})
  --workers N                     concurrent reconciles (default ${DEFAULTS.workers})
  --leader-elect                  elect a leader on a Lease; only the leader acts
  --lease-name NAME               (default ${DEFAULTS.leaseName})
  --lease-namespace NS            namespace of the Lease (required with --leader-elect)
  --lease-duration-seconds N      (default ${DEFAULTS.leaseDurationMs / 1000})
  --renew-deadline-seconds N      (default ${DEFAULTS.renewDeadlineMs / 1000})
  --retry-period-seconds N        (default ${DEFAULTS.retryPeriodMs / 1000})
  -h, --help                      show this help
`;

const seconds = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0))
    throw new InputError(flag, `must be a positive number of seconds, got "${value}"`);
  return n * 1000;
};

const integer = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InputError(flag, `must be a non-negative integer, got "${value}"`);
  return n;
};

/** Parses controller flags into a resolved config. @throws InputError naming the bad flag */
export function parseControllerFlags(
  argv: readonly string[],
): { config: ControllerConfig; kubeconfig?: string } | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        kubeconfig: { type: "string" },
        namespace: { type: "string" },
        "nats-url": { type: "string" },
        "health-port": { type: "string" },
        "health-host": { type: "string" },
        "gang-timeout-seconds": { type: "string" },
        "gang-backoff-seconds": { type: "string" },
        "capacity-retry-seconds": { type: "string" },
        workers: { type: "string" },
        "leader-elect": { type: "boolean" },
        "lease-name": { type: "string" },
        "lease-namespace": { type: "string" },
        "lease-duration-seconds": { type: "string" },
        "renew-deadline-seconds": { type: "string" },
        "retry-period-seconds": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    const match = /'(--?[\w-]+)/.exec((err as Error).message);
    throw new InputError(match?.[1] ?? "arguments", (err as Error).message.split("\n")[0] ?? "bad arguments");
  }
  if (values.help) return "help";
  const str = (k: string) => values[k] as string | undefined;
  const gangBackoffBaseMs = seconds("--gang-backoff-seconds", str("gang-backoff-seconds"));
  const config = resolveControllerConfig({
    namespace: str("namespace"),
    natsUrl: str("nats-url"),
    healthHost: str("health-host"),
    healthPort: integer("--health-port", str("health-port")),
    gangTimeoutMs: seconds("--gang-timeout-seconds", str("gang-timeout-seconds")),
    ...(gangBackoffBaseMs
      ? { gangBackoffBaseMs, gangBackoffMaxMs: Math.max(gangBackoffBaseMs, DEFAULTS.gangBackoffMaxMs) }
      : {}),
    capacityRetryMs: seconds("--capacity-retry-seconds", str("capacity-retry-seconds")),
    workers: integer("--workers", str("workers")),
    leaderElection: values["leader-elect"]
      ? {
          namespace: str("lease-namespace"),
          name: str("lease-name"),
          leaseDurationMs: seconds("--lease-duration-seconds", str("lease-duration-seconds")),
          renewDeadlineMs: seconds("--renew-deadline-seconds", str("renew-deadline-seconds")),
          retryPeriodMs: seconds("--retry-period-seconds", str("retry-period-seconds")),
        }
      : false,
  });
  return { config, ...(str("kubeconfig") ? { kubeconfig: str("kubeconfig") } : {}) };
}

/** A kubeconfig from a file, or the default chain ($KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(path?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}

/** Entry point of the controller's own binary (main.js): runs until SIGTERM/SIGINT. */
export async function runControllerCli(argv: readonly string[]): Promise<void> {
  let parsed: ReturnType<typeof parseControllerFlags>;
  try {
    parsed = parseControllerFlags(argv);
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`strata: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (parsed === "help") {
    process.stdout.write(CONTROLLER_USAGE);
    return;
  }
  const controller = new Controller({ kubeConfig: loadKubeConfig(parsed.kubeconfig), config: parsed.config });
  const shutdown = () => {
    controller.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  await controller.start();
}
