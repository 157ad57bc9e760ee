/**
 * Where nats-server comes from. The project builds it from its Go module at a
 * pinned version into ~/.cache/strata/nats-server-<version>/ (portable, and the
 * Go module proxy is reachable where Debian mirrors may not be); without Go,
 * it falls back to Debian's `nats-server` package (2.9.10 in bookworm;
 * JetStream needs 2.2+). STRATA_NATS_SERVER overrides both.
 */
import { execFile } from "node:child_process";
import { access, constants, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "../log.js";

const run = promisify(execFile);

/** https://github.com/nats-io/nats-server/releases — pinned for reproducible builds. */
export const NATS_SERVER_VERSION = "2.12.15";
export const NATS_SERVER_MODULE = "github.com/nats-io/nats-server/v2";
export const NATS_SERVER_BINARY_ENV = "STRATA_NATS_SERVER";

export function natsServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.STRATA_CACHE_DIR ?? join(env.HOME ?? homedir(), ".cache", "strata");
  return join(cacheRoot, `nats-server-${NATS_SERVER_VERSION}`);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

/** The nats-server to run: $STRATA_NATS_SERVER, the cached build, or one on PATH. */
export async function findNatsServer(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const override = env[NATS_SERVER_BINARY_ENV];
  if (override) return override;
  const cached = join(natsServerCacheDir(env), "nats-server");
  if (await isExecutable(cached)) return cached;
  return onPath("nats-server", env);
}

/** Thrown when no nats-server can be found or installed; the message says what to do. */
export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
}

export async function requireNatsServer(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const found = await findNatsServer(env);
  if (found === undefined) {
    throw new NatsServerMissingError(
      `nats-server not found: run \`npx strata setup\` (builds nats-server ${NATS_SERVER_VERSION} into ${natsServerCacheDir(env)}), set ${NATS_SERVER_BINARY_ENV}, or pass --nats-url`,
    );
  }
  return found;
}

/**
 * Makes sure a nats-server exists; returns its path. Builds with `go install`
 * into a temporary directory and renames it into the cache, so an interrupted
 * build never leaves a half-written binary behind.
 */
export async function installNatsServer(
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const found = await findNatsServer(env);
  if (found !== undefined) return found;
  const target = natsServerCacheDir(env);
  const go = await onPath("go", env);
  if (go !== undefined) {
    logger.info("building nats-server from its Go module", { version: NATS_SERVER_VERSION, into: target });
    await mkdir(join(target, ".."), { recursive: true });
    const tmp = await mkdtemp(`${target}.tmp-`);
    try {
      await run(
        "nice",
        ["-n", "10", go, "install", "-trimpath", `${NATS_SERVER_MODULE}@v${NATS_SERVER_VERSION}`],
        {
          env: { ...env, GOBIN: tmp, CGO_ENABLED: "0" },
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      await rm(target, { recursive: true, force: true });
      await rename(tmp, target);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return join(target, "nats-server");
  }
  if (process.getuid?.() === 0 && (await onPath("apt-get", env)) !== undefined) {
    logger.info("installing Debian's nats-server package");
    await run("flock", ["/tmp/strata-apt.lock", "apt-get", "install", "-y", "-q", "nats-server"], {
      env: { ...env, DEBIAN_FRONTEND: "noninteractive" },
      maxBuffer: 16 * 1024 * 1024,
    });
    const installed = await findNatsServer(env);
    if (installed !== undefined) return installed;
  }
  throw new NatsServerMissingError(
    `cannot install nats-server: install Go (to build ${NATS_SERVER_MODULE}@v${NATS_SERVER_VERSION}) or Debian's nats-server package, or set ${NATS_SERVER_BINARY_ENV}`,
  );
}
