import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { pollUntil } from "../k8s/index.js";
import { STRATA_BIN } from "../strata-bin.js";
import { controllerKubeconfig } from "./fixture.js";

export const TEST_LEASE = "strata-controller";

export interface ControllerProcess {
  readonly identityPrefix: string;
  readonly child: ChildProcess;
  /** Port of /healthz, /readyz and /metrics. */
  readonly healthPort: number;
  /** Everything the process wrote to stderr (its JSON log). */
  stderr(): string;
  /** GET /metrics. */
  metrics(): Promise<string>;
  leaseHolder(): Promise<string | undefined>;
  /** Reads /metrics: strata_controller_is_leader. */
  isLeader(): Promise<boolean>;
  /** SIGKILL to the process group: no lease release, as in a crash. */
  kill(): void;
}

export interface ControllerProcessOptions {
  /** NATS of the control plane; default an unreachable one (no workers). */
  readonly natsUrl?: string;
  /** More flags, e.g. `--node-not-ready-grace-seconds=5`. */
  readonly extraArgs?: readonly string[];
}

/**
 * Starts `strata controller` as a child process (the command the chart runs) with
 * leader election on a short lease, as the ServiceAccount.
 */
export async function startControllerProcess(
  admin: KubeConfig,
  namespace: string,
  name: string,
  options: ControllerProcessOptions = {},
): Promise<ControllerProcess> {
  const dir = await mkdtemp(join(tmpdir(), `strata-${name}-`));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, await controllerKubeconfig(admin, namespace), { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [
      STRATA_BIN,
      "controller",
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${namespace}`,
      "--health-host=127.0.0.1",
      "--health-port=0",
      `--nats-url=${options.natsUrl ?? "nats://nats.invalid:4222"}`,
      "--gang-timeout-seconds=15",
      "--leader-elect",
      `--lease-namespace=${namespace}`,
      `--lease-name=${TEST_LEASE}`,
      "--lease-duration-seconds=4",
      "--renew-deadline-seconds=3",
      "--retry-period-seconds=0.5",
      ...(options.extraArgs ?? []),
    ],
    { env: { ...process.env, POD_NAME: name }, detached: true, stdio: ["ignore", "ignore", "pipe"] },
  );
  let port: number | undefined;
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    const m = /"healthPort":(\d+)/.exec(stderr);
    if (m) port = Number(m[1]);
  });
  await pollUntil(`${name} to sync its caches`, 30_000, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr.slice(-2000)}`);
    return port !== undefined;
  });
  const coordination = admin.makeApiClient(CoordinationV1Api);
  const metrics = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return {
    identityPrefix: name,
    child,
    healthPort: port as number,
    stderr: () => stderr,
    metrics,
    async leaseHolder() {
      const lease = await coordination
        .readNamespacedLease({ namespace, name: TEST_LEASE })
        .catch(() => undefined);
      return lease?.spec?.holderIdentity;
    },
    async isLeader() {
      return /^strata_controller_is_leader 1$/m.test(await metrics());
    },
    kill() {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
  };
}
