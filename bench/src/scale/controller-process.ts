import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CONTROLLER_METRICS } from "@strata/controller";
import { pollUntil } from "@strata/test/k8s";

/** This build's CLI; the benchmark can also run another build's (`--compare-cli`). */
export const STRATA_BIN = fileURLToPath(new URL("../../../cli/bin/strata.js", import.meta.url));

/**
 * `strata controller` as its own process, the command the Helm chart runs: the
 * benchmark's clients (the user creating ModelDeployments, the watch that
 * times the binds) then do not share an event loop with the controller.
 */
export class ControllerProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
    private readonly output: () => string,
  ) {}

  /** With `cpuProfileDir`, V8 writes the process's CPU profile there when it exits. */
  static async start(
    kubeconfigPath: string,
    namespace: string,
    cpuProfileDir?: string,
    strataBin = STRATA_BIN,
  ): Promise<ControllerProcess> {
    const child = spawn(
      process.execPath,
      [
        ...(cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : []),
        strataBin,
        "controller",
        `--kubeconfig=${kubeconfigPath}`,
        `--namespace=${namespace}`,
        "--health-host=127.0.0.1",
        "--health-port=0",
        // No workers run here: nothing reports over NATS, and no NATS server is needed.
        "--nats-url=nats://127.0.0.1:1",
        "--gang-timeout-seconds=300",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    let port: number | undefined;
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      port ??= Number(/"healthPort":(\d+)/.exec(stderr)?.[1]) || undefined;
    });
    await pollUntil("strata controller to sync its caches", 60_000, async () => {
      if (child.exitCode !== null) throw new Error(`strata controller exited: ${stderr.slice(-2000)}`);
      return port !== undefined;
    });
    return new ControllerProcess(child, port as number, () => stderr);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Lines of its JSON log at level warn or error. */
  warnings(): string[] {
    return this.output()
      .split("\n")
      .filter((l) => /"level":"(warn|error)"/.test(l));
  }

  async metrics(): Promise<ControllerMetrics> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    return parseControllerMetrics(text);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface ControllerMetrics {
  /** Cumulative buckets of the reconcile duration histogram (seconds). */
  readonly reconcileBuckets: { le: number; count: number }[];
  readonly reconciles: number;
  readonly reconcilesByResult: Record<string, number>;
  /** API requests by verb (list included). */
  readonly apiRequestsByVerb: Record<string, number>;
}

/** The few series the benchmark reports, from the controller's Prometheus text. */
export function parseControllerMetrics(text: string): ControllerMetrics {
  const out: ControllerMetrics = {
    reconcileBuckets: [],
    reconciles: 0,
    reconcilesByResult: {},
    apiRequestsByVerb: {},
  };
  let reconciles = 0;
  for (const line of text.split("\n")) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const [, name = "", rawLabels = "", rawValue = ""] = m;
    const labels = Object.fromEntries([...rawLabels.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const value = Number(rawValue);
    if (name === `${CONTROLLER_METRICS.reconcileDuration}_bucket`) {
      out.reconcileBuckets.push({
        le: labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(labels.le),
        count: value,
      });
    } else if (name === `${CONTROLLER_METRICS.reconcileDuration}_count`) {
      reconciles = value;
    } else if (name === CONTROLLER_METRICS.reconciles) {
      out.reconcilesByResult[labels.result ?? ""] = value;
    } else if (name === CONTROLLER_METRICS.apiRequests) {
      const verb = labels.verb ?? "";
      out.apiRequestsByVerb[verb] = (out.apiRequestsByVerb[verb] ?? 0) + value;
    }
  }
  return { ...out, reconciles };
}
