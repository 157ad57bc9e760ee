// Installs what only the tests need, once, into ~/.cache/strata (the engines
// are installed by `strata setup`): the Kubernetes control plane, kubelet,
// kube-proxy, etcd, KWOK, helm, CoreDNS and, when the machine lacks it,
// kubectl — built from Go modules — promtool, extracted from Debian's
// `prometheus` package, and for real nodes Debian's containerd, runc, CNI
// plugins, buildah and debootstrap plus the images their pods run (built with
// buildah, cached as OCI archives). Present binaries and images whose inputs
// did not change are never rebuilt. Run by scripts/test.sh as `node test/dist/setup.js`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ensureNodePackages } from "./host/packages.js";
import { megabytes, secondsSince } from "./images/build-image.js";
import { ensureTestImages } from "./images/index.js";
import { BuildError, ensureK8sBinaries, onPath } from "./k8s/build.js";
import { promtoolBinDir, strataCacheDir } from "./k8s/versions.js";

/**
 * promtool without the Prometheus server: `apt-get download` needs no root and
 * starts no service, and `dpkg-deb -x` unpacks the package into a temp dir.
 */
async function ensurePromtool(): Promise<void> {
  const target = join(promtoolBinDir(), "promtool");
  if (existsSync(target) || onPath("promtool")) return;
  console.log("setup: extracting promtool from Debian's prometheus package");
  await mkdir(strataCacheDir(), { recursive: true });
  const work = await mkdtemp(join(strataCacheDir(), "promtool-download-"));
  await chmod(work, 0o755); // apt-get download writes as user _apt where it can
  try {
    if (!aptDownload("prometheus", work)) {
      if (process.getuid?.() !== 0) {
        throw new BuildError("apt-get download prometheus failed; run `apt-get update` as root, then retry");
      }
      sh("flock", ["/tmp/strata-apt.lock", "apt-get", "update"], work);
      if (!aptDownload("prometheus", work)) throw new BuildError("apt-get download prometheus failed");
    }
    const deb = (await readdir(work)).find((f) => f.startsWith("prometheus_") && f.endsWith(".deb"));
    if (deb === undefined) throw new BuildError("apt-get download produced no prometheus .deb");
    sh("dpkg-deb", ["-x", deb, "root"], work);
    await mkdir(promtoolBinDir(), { recursive: true });
    await copyFile(join(work, "root", "usr", "bin", "promtool"), `${target}.partial`);
    sh("mv", [`${target}.partial`, target], work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The harness makes its CA and serving certificate with the openssl CLI. */
function ensureOpenssl(): void {
  if (onPath("openssl")) return;
  if (process.getuid?.() !== 0) throw new BuildError("openssl is missing: install Debian's openssl package");
  sh(
    "flock",
    ["/tmp/strata-apt.lock", "apt-get", "install", "-y", "--no-install-recommends", "openssl"],
    ".",
  );
}

function aptDownload(pkg: string, cwd: string): boolean {
  return spawnSync("apt-get", ["download", pkg], { cwd, stdio: "inherit" }).status === 0;
}

function sh(cmd: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(cmd, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) throw new BuildError(`${cmd} ${args.join(" ")} failed`);
}

/** Runs one setup step and prints how long it took, so cold and warm costs are visible in CI logs. */
async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  console.log(`setup: ${name}: ${secondsSince(started)} s`);
  return result;
}

async function main(): Promise<void> {
  const started = Date.now();
  ensureOpenssl();
  const realNodes = process.getuid?.() === 0;
  if (realNodes) await step("Debian packages for real nodes", () => ensureNodePackages(console.log));
  else console.log("setup: not root, so no real nodes: their tests need root (namespaces, cgroups, mounts)");
  const built = await step("Kubernetes binaries", () => ensureK8sBinaries());
  if (built.length > 0) console.log(`setup: built ${built.join(", ")}`);
  await step("promtool", ensurePromtool);
  if (realNodes) {
    const images = await step("images", () => ensureTestImages());
    for (const image of Object.values(images))
      console.log(`setup: ${image.name}: ${megabytes(image.bytes)} MB`);
  }
  console.log(`setup: done in ${secondsSince(started)} s`);
}

main().catch((err: unknown) => {
  console.error(`setup: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
