/**
 * Restarts the harness's kube-apiserver in place: same binary, flags, port,
 * certificates and etcd, so clients (the controller, the gateway) see it go
 * away and come back. The replacement is this module's to stop.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import type { ControlPlane } from "../k8s/index.js";
import { probe } from "../k8s/probe.js";

export interface RestartedApiServer {
  /** How long it was unreachable: from the kill until /readyz answered again (ms). */
  readonly downMs: number;
  stop(): Promise<void>;
}

export async function restartApiServer(cp: ControlPlane): Promise<RestartedApiServer> {
  const info = cp.components.find((c) => c.name === "kube-apiserver");
  if (!info) throw new Error("the control plane has no kube-apiserver");
  const argv = readFileSync(`/proc/${info.pid}/cmdline`, "utf8")
    .split("\0")
    .filter((a) => a !== "");
  const [bin, ...args] = argv;
  if (!bin) throw new Error("cannot read the kube-apiserver's command line");
  const t0 = Date.now();
  await killAndWait(info.pid);
  const log = openSync(info.logPath, "a");
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  const token = cp.kubeConfig().getCurrentUser()?.token;
  const ready = () => probe(`${cp.server}/readyz`, { ca: cp.caCertPem, ...(token ? { token } : {}) });
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`the restarted kube-apiserver exited ${child.exitCode}`);
    if (Date.now() - t0 > 120_000) throw new Error("the restarted kube-apiserver is not ready after 120 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  const downMs = Date.now() - t0;
  return {
    downMs,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      await killAndWait(child.pid);
    },
  };
}

async function killAndWait(pid: number): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {}
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + 10_000;
  while (alive(pid)) {
    if (Date.now() > deadline) signal("SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
