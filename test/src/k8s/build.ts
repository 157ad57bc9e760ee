import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  COREDNS_VERSION,
  corednsBinDir,
  ETCD_VERSION,
  HELM_VERSION,
  helmBinDir,
  KUBERNETES_RELEASE_DATE,
  KUBERNETES_VERSION,
  KWOK_VERSION,
  kubernetesBinDir,
  kwokBinDir,
} from "./versions.js";

/**
 * Builds the Kubernetes control plane and node agents (kubelet, kube-proxy),
 * etcd, KWOK, helm and CoreDNS from the Go module proxy into
 * `~/.cache/strata/<component>-<version>/bin`, once. A binary that
 * is already there is never rebuilt. Builds run under `nice -n 10` with
 * `-trimpath -ldflags "-s -w"` (smaller binaries, smaller build cache).
 */

/** The wrapper module that pins k8s.io/kubernetes and replaces its staging modules. */
const WRAPPER_MODULE_DIR = fileURLToPath(new URL("../../k8s-build/", import.meta.url));

interface GoBinary {
  /** File name under the bin directory. */
  readonly name: string;
  /** Import path of the main package. */
  readonly pkg: string;
}

const CONTROL_PLANE: readonly GoBinary[] = [
  { name: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver" },
  { name: "kube-scheduler", pkg: "k8s.io/kubernetes/cmd/kube-scheduler" },
  { name: "kube-controller-manager", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager" },
  // Real nodes; built in the same `go build` as the control plane when both are missing.
  { name: "kubelet", pkg: "k8s.io/kubernetes/cmd/kubelet" },
  { name: "kube-proxy", pkg: "k8s.io/kubernetes/cmd/kube-proxy" },
];
const KUBECTL: GoBinary = { name: "kubectl", pkg: "k8s.io/kubernetes/cmd/kubectl" };
const ETCD: GoBinary = { name: "etcd", pkg: "go.etcd.io/etcd/server/v3" };

/** Thrown when a tool the build needs is missing or a build step fails. */
export class BuildError extends Error {
  override readonly name = "BuildError";
}

export type BuildLog = (line: string) => void;

/** Builds whatever of the harness binaries is missing; returns the names it built. */
export async function ensureK8sBinaries(log: BuildLog = console.log): Promise<string[]> {
  const built: string[] = [];
  const k8sDir = kubernetesBinDir();
  const wanted = [...CONTROL_PLANE, ...(onPath("kubectl") ? [] : [KUBECTL])];
  const missing = wanted.filter((b) => !existsSync(join(k8sDir, b.name)));
  if (missing.length > 0) {
    requireGo();
    log(`k8s: building ${missing.map((b) => b.name).join(", ")} ${KUBERNETES_VERSION} (first time only)`);
    await buildInto(k8sDir, missing, (out) =>
      goBuild(
        ["-ldflags", kubernetesLdflags(), "-o", `${out}/`, ...missing.map((b) => b.pkg)],
        WRAPPER_MODULE_DIR,
      ),
    );
    built.push(...missing.map((b) => b.name));
  }
  if (!existsSync(join(k8sDir, ETCD.name))) {
    requireGo();
    log(`k8s: building etcd ${ETCD_VERSION}`);
    await buildInto(k8sDir, [ETCD], (out) =>
      goBuild(["-ldflags", "-s -w", "-o", join(out, ETCD.name), ETCD.pkg], WRAPPER_MODULE_DIR),
    );
    built.push(ETCD.name);
  }
  if (!existsSync(join(kwokBinDir(), "kwok"))) {
    requireGo();
    log(`k8s: building kwok ${KWOK_VERSION}`);
    await buildInto(kwokBinDir(), [{ name: "kwok", pkg: "" }], (out) =>
      goInstall(out, ["-ldflags", "-s -w", `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`]),
    );
    built.push("kwok");
  }
  if (!existsSync(join(helmBinDir(), "helm"))) {
    requireGo();
    log(`k8s: building helm ${HELM_VERSION}`);
    const ldflags = `-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`;
    await buildInto(helmBinDir(), [{ name: "helm", pkg: "" }], (out) =>
      goInstall(out, ["-ldflags", ldflags, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`]),
    );
    built.push("helm");
  }
  if (!existsSync(join(corednsBinDir(), "coredns"))) {
    requireGo();
    log(`k8s: building coredns ${COREDNS_VERSION}`);
    await buildInto(corednsBinDir(), [{ name: "coredns", pkg: "" }], (out) =>
      goInstall(out, ["-ldflags", "-s -w", `github.com/coredns/coredns@${COREDNS_VERSION}`]),
    );
    built.push("coredns");
  }
  return built;
}

/** Version variables the Kubernetes release build sets (hack/lib/version.sh), so `--version` is real. */
function kubernetesLdflags(): string {
  const [major, minor] = KUBERNETES_VERSION.replace(/^v/, "").split(".");
  const vars = {
    gitVersion: KUBERNETES_VERSION,
    gitMajor: major ?? "",
    gitMinor: minor ?? "",
    gitTreeState: "clean",
    buildDate: KUBERNETES_RELEASE_DATE,
  };
  const flags = ["-s", "-w"];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    for (const [key, value] of Object.entries(vars)) flags.push(`-X ${pkg}.${key}=${value}`);
  }
  return flags.join(" ");
}

/** Builds into a fresh directory beside `binDir`, then moves each binary in: never a half-written binary. */
async function buildInto(
  binDir: string,
  binaries: readonly GoBinary[],
  build: (outDir: string) => Promise<void>,
): Promise<void> {
  await mkdir(dirname(binDir), { recursive: true });
  const out = await mkdtemp(join(dirname(binDir), "build-"));
  try {
    await build(out);
    await mkdir(binDir, { recursive: true });
    for (const b of binaries) await rename(join(out, b.name), join(binDir, b.name));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const goflags = [process.env.GOFLAGS ?? "", "-trimpath"].join(" ").trim();
  return { ...process.env, GOFLAGS: goflags, CGO_ENABLED: "0", ...extra };
}

function goBuild(args: readonly string[], cwd: string): Promise<void> {
  return run("nice", ["-n", "10", "go", "build", ...args], cwd, goEnv());
}

/** `go install pkg@version` builds a tagged module with its own go.mod, outside any wrapper module. */
function goInstall(gobin: string, args: readonly string[]): Promise<void> {
  return run("nice", ["-n", "10", "go", "install", ...args], gobin, goEnv({ GOBIN: gobin }));
}

function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", (err) =>
      reject(new BuildError(`${cmd} failed to start: ${err.message}`, { cause: err })),
    );
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new BuildError(`${cmd} ${args.join(" ")} exited with ${signal ?? code}`));
    });
  });
}

/** True when `cmd` runs from PATH. */
export function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function requireGo(): void {
  if (!onPath("go")) {
    throw new BuildError(
      "go is not on PATH: the Kubernetes test harness builds its binaries with Go >= 1.26 (https://go.dev/dl/)",
    );
  }
}
