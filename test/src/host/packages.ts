import { existsSync } from "node:fs";
import { CommandError, onPath, runCommand } from "./commands.js";

/**
 * Debian packages that real nodes and daemonless image builds need, each with
 * a file that shows it is installed. Debian 12 has containerd 1.6, runc 1.1,
 * the CNI plugins in /usr/lib/cni, buildah 1.28 and debootstrap; kube-proxy
 * drives iptables.
 */
const NODE_PACKAGES: readonly { readonly pkg: string; readonly present: () => boolean }[] = [
  { pkg: "containerd", present: () => onPath("containerd") && onPath("ctr") },
  { pkg: "runc", present: () => onPath("runc") },
  { pkg: "containernetworking-plugins", present: () => existsSync(`${CNI_BIN_DIR}/bridge`) },
  { pkg: "iptables", present: () => onPath("iptables") },
  { pkg: "buildah", present: () => onPath("buildah") },
  { pkg: "debootstrap", present: () => onPath("debootstrap") },
];

/** Where Debian's containernetworking-plugins package installs the plugins. */
export const CNI_BIN_DIR = "/usr/lib/cni";

/** Serialises apt-get across the project's setup steps and concurrent runs. */
const APT_LOCK = "/tmp/strata-apt.lock";

/** Installs the missing packages with apt-get (as root); returns their names. */
export async function ensureNodePackages(log: (line: string) => void): Promise<string[]> {
  const missing = NODE_PACKAGES.filter((p) => !p.present()).map((p) => p.pkg);
  if (missing.length === 0) return [];
  if (process.getuid?.() !== 0 || !onPath("apt-get")) {
    throw new CommandError(`real Kubernetes nodes need Debian's ${missing.join(", ")}: install them as root`);
  }
  log(`setup: apt-get install ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = (): Promise<string> =>
    runCommand("flock", [APT_LOCK, "apt-get", "install", "-y", "-q", "--no-install-recommends", ...missing], {
      env,
    });
  try {
    await install();
  } catch {
    // Package lists are missing or stale on a fresh machine.
    await runCommand("flock", [APT_LOCK, "apt-get", "update", "-q"], { env });
    await install();
  }
  const still = NODE_PACKAGES.filter((p) => missing.includes(p.pkg) && !p.present()).map((p) => p.pkg);
  if (still.length > 0)
    throw new CommandError(`apt-get installed ${still.join(", ")} but it is still missing`);
  return missing;
}
