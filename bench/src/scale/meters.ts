import { readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

// What the control plane and the machine did during a phase of the scale benchmark.

/** A GET on the API server with the kubeconfig's credentials; the body as bytes. */
export async function apiserverGet(kc: KubeConfig, path: string): Promise<Buffer> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig: no current cluster");
  const url = new URL(path, cluster.server);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return await new Promise<Buffer>((resolve, reject) => {
    https
      .get(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks))
            : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`)),
        );
      })
      .on("error", reject);
  });
}

/**
 * A Go CPU profile of kube-apiserver over the next `seconds` (its /debug/pprof,
 * which needs `--profiling=true`), written to `file` when done; `go tool pprof` reads it.
 */
export async function apiserverCpuProfile(kc: KubeConfig, seconds: number, file: string): Promise<void> {
  writeFileSync(file, await apiserverGet(kc, `/debug/pprof/profile?seconds=${seconds}`));
}

/** The API server's request counters by "VERB resource[/subresource]", from its /metrics. */
export async function apiRequestCounts(kc: KubeConfig): Promise<Record<string, number>> {
  const text = (await apiserverGet(kc, "/metrics")).toString("utf8");
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? "", m[2] ?? ""] as const),
    );
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}`;
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

export function difference(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );
}

/** CPU time of the control-plane components and of this process, from /proc, since construction. */
export class CpuMeter {
  private readonly start: Record<string, number>;
  constructor(private readonly components: readonly { name: string; pid: number }[]) {
    this.start = this.read();
  }
  since(): Record<string, number> {
    const now = this.read();
    return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (this.start[k] ?? 0)]));
  }
  private read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.components) out[c.name] = procCpuSeconds(c.pid);
    const self = process.cpuUsage();
    out["benchmark (creates, watch)"] = (self.user + self.system) / 1e6;
    // The whole machine: idle time, and time the hypervisor gave to other guests (a round with
    // steal was measured on fewer cores than it seems).
    const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    out["machine: idle"] = ((cpu[3] ?? 0) + (cpu[4] ?? 0)) / 100;
    out["machine: stolen by the hypervisor"] = (cpu[7] ?? 0) / 100;
    return out;
  }
}

/** utime + stime of a live process, in seconds (USER_HZ is 100 on Linux). */
function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}
