import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Builds llama.cpp's `ggml-rpc-server` and `llama-server` from the source that
 * the pinned `node-llama-cpp` package ships (llama/gitRelease.bundle), once,
 * into ~/.cache/strata/llama.cpp-<node-llama-cpp version>/bin.
 */

/** The cmake targets; in this llama.cpp the RPC server target is `ggml-rpc-server`. */
const TARGETS = ["ggml-rpc-server", "llama-server"] as const;

/**
 * RPC on, no network fetches at build time (no curl, no OpenSSL, no prebuilt
 * web UI from Hugging Face), static binaries so they can be copied out alone.
 */
const CMAKE_FLAGS = [
  "-DCMAKE_BUILD_TYPE=Release",
  "-DGGML_RPC=ON",
  "-DLLAMA_CURL=OFF",
  "-DLLAMA_OPENSSL=OFF",
  "-DLLAMA_BUILD_UI=OFF",
  "-DLLAMA_USE_PREBUILT_UI=OFF",
  "-DLLAMA_BUILD_TESTS=OFF",
  "-DLLAMA_BUILD_EXAMPLES=OFF",
  "-DBUILD_SHARED_LIBS=OFF",
];

const BUILD_JOBS = 2;

export interface LlamaCppBinaries {
  /** The folder holding both programs (a worker's STRATA_ENGINE_HOME). */
  readonly binDir: string;
  readonly rpcServer: string;
  readonly llamaServer: string;
  readonly version: string;
}

/** The build could not run; `message` is one line a user can act on. */
export class LlamaCppBuildError extends Error {
  override readonly name = "LlamaCppBuildError";
}

export interface EnsureOptions {
  readonly log: (line: string) => void;
  /** Overrides ~/.cache/strata (tests). */
  readonly cacheRoot?: string;
}

function findNodeLlamaCpp(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "node_modules", "node-llama-cpp");
    if (existsSync(join(candidate, "package.json"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new LlamaCppBuildError("node-llama-cpp is not installed (run npm ci)");
    dir = parent;
  }
}

/** Where the binaries live (or will), without building anything. */
export function llamaCppBinaryPaths(cacheRoot = join(homedir(), ".cache", "strata")): LlamaCppBinaries {
  const pkg = findNodeLlamaCpp();
  const version = (JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version: string })
    .version;
  const bin = join(cacheRoot, `llama.cpp-${version}`, "bin");
  return {
    binDir: bin,
    rpcServer: join(bin, "ggml-rpc-server"),
    llamaServer: join(bin, "llama-server"),
    version,
  };
}

/**
 * llama.cpp's programs in `dir` (an image's or a user's build), checked to exist.
 * @throws LlamaCppBuildError naming the missing program
 */
export function llamaCppBinariesIn(dir: string): Omit<LlamaCppBinaries, "version"> {
  const binaries = { rpcServer: join(dir, "ggml-rpc-server"), llamaServer: join(dir, "llama-server") };
  for (const path of Object.values(binaries)) {
    if (!existsSync(path)) throw new LlamaCppBuildError(`${path} does not exist`);
  }
  return { binDir: dir, ...binaries };
}

function hasCommand(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

async function run(
  command: string,
  args: string[],
  log: (line: string) => void,
  cwd?: string,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn("nice", ["-n", "10", command, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) {
        // cmake --build prints "[ 42%] Building ..." lines: show them as progress.
        const progress = /^\[\s*(\d+)%\]\s*(.*)$/.exec(line.trim());
        if (progress) log(`llama.cpp build ${progress[1]}%: ${progress[2]}`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => reject(new LlamaCppBuildError(`${command}: ${err.message}`)));
    child.on("exit", (code) => {
      if (code === 0) resolve();
      else reject(new LlamaCppBuildError(`${command} ${args[0] ?? ""} failed (exit ${code}):\n${tail}`));
    });
  });
}

async function ensureCmake(log: (line: string) => void): Promise<void> {
  if (hasCommand("cmake")) return;
  if (process.getuid?.() !== 0 || !hasCommand("apt-get")) {
    throw new LlamaCppBuildError("cmake is missing: install cmake (e.g. apt-get install cmake) and re-run");
  }
  log("installing cmake from Debian (apt-get)");
  const install = spawnSync(
    "sh",
    ["-c", "apt-get install -y cmake || (apt-get update && apt-get install -y cmake)"],
    {
      stdio: "ignore",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    },
  );
  if (install.status !== 0 || !hasCommand("cmake")) {
    throw new LlamaCppBuildError("cmake is missing and apt-get could not install it");
  }
}

/**
 * Returns the binaries, building them first when the cache lacks them.
 * Throws LlamaCppBuildError with a one-line message when a tool is missing.
 */
export async function ensureLlamaCppBinaries(options: EnsureOptions): Promise<LlamaCppBinaries> {
  const { log } = options;
  const paths = llamaCppBinaryPaths(options.cacheRoot);
  if (existsSync(paths.rpcServer) && existsSync(paths.llamaServer)) return paths;

  if (!hasCommand("c++") && !hasCommand("g++") && !hasCommand("clang++")) {
    throw new LlamaCppBuildError("no C++ compiler found: install one (e.g. apt-get install g++) and re-run");
  }
  await ensureCmake(log);
  if (!hasCommand("git"))
    throw new LlamaCppBuildError("git is missing: it is needed to unpack the llama.cpp source");

  const pkg = findNodeLlamaCpp();
  const info = JSON.parse(readFileSync(join(pkg, "llama", "llama.cpp.info.json"), "utf8")) as { tag: string };
  const work = await mkdtemp(join(tmpdir(), "strata-llama.cpp-"));
  try {
    log(`unpacking llama.cpp ${info.tag} (node-llama-cpp ${paths.version})`);
    const source = join(work, "src");
    await run("git", ["clone", "--quiet", join(pkg, "llama", "gitRelease.bundle"), source], log);
    const build = join(work, "build");
    log(`configuring llama.cpp (${CMAKE_FLAGS.join(" ")})`);
    await run("cmake", ["-S", source, "-B", build, ...CMAKE_FLAGS], log);
    log(`building ${TARGETS.join(", ")} with ${BUILD_JOBS} jobs (about 8 minutes on 2 cores)`);
    await run(
      "cmake",
      ["--build", build, "--config", "Release", `-j${BUILD_JOBS}`, "--target", ...TARGETS],
      log,
    );
    const bin = dirname(paths.rpcServer);
    await mkdir(bin, { recursive: true });
    for (const target of TARGETS) {
      // Copy, then rename: a binary in the cache is always complete.
      const partial = join(bin, `${target}.partial`);
      await copyFile(join(build, "bin", target), partial);
      await rename(partial, join(bin, target));
    }
    log(`llama.cpp binaries ready in ${bin}`);
    return paths;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
