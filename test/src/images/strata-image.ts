import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { STRATA_IMAGE } from "@strata/core";
import { llamaCppBinaryPaths } from "@strata/shard-worker";
import { CommandError, runCommand } from "../host/commands.js";
import { ensureBaseImage } from "./base-image.js";
import { ensureImage } from "./build-image.js";
import { type ImageArchive, InputHash, imagesCacheDir } from "./cache.js";

/**
 * The Strata image for tests: deploy/images/Dockerfile with APP=prebuilt and
 * LLAMA_CPP=prebuilt, on the local base image. The build context holds what
 * this checkout already built: the JavaScript that deploy/images/stage-app.mjs
 * picks, its production dependencies (npm ci --omit=dev, cached by lockfile),
 * and the llama.cpp binaries `strata setup` built. Rebuilt whenever any of
 * them changes; otherwise the cached archive is used.
 */
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DOCKERFILE = join(REPO_ROOT, "deploy", "images", "Dockerfile");
const STAGE_APP = join(REPO_ROOT, "deploy", "images", "stage-app.mjs");
const NPM_CI_PRODUCTION = [
  "ci",
  "--omit=dev",
  "--ignore-scripts",
  "--no-audit",
  "--no-fund",
  "--prefer-offline",
];

export async function ensureStrataImage(log: (line: string) => void): Promise<ImageArchive> {
  const llama = llamaCppBinaryPaths();
  for (const bin of [llama.llamaServer, llama.rpcServer]) {
    if (!existsSync(bin)) throw new CommandError(`${bin} is missing: run \`npx strata setup\` first`);
  }
  const base = await ensureBaseImage(log);
  await mkdir(imagesCacheDir(), { recursive: true });
  const staged = await mkdtemp(join(imagesCacheDir(), "strata-app-"));
  try {
    const app = join(staged, "app");
    await runCommand(process.execPath, [STAGE_APP, REPO_ROOT, app]);
    const hash = new InputHash().text("base", basename(base.path));
    await hash.file("Dockerfile", DOCKERFILE);
    await hash.file("stage-app.mjs", STAGE_APP);
    await hash.tree("app", app);
    await hash.file("llama-server", llama.llamaServer);
    await hash.file("ggml-rpc-server", llama.rpcServer);
    return await ensureImage(
      {
        kind: "strata",
        name: STRATA_IMAGE,
        key: hash.digest(),
        dockerfile: DOCKERFILE,
        buildArgs: { BASE_IMAGE: `oci-archive:${base.path}`, APP: "prebuilt", LLAMA_CPP: "prebuilt" },
        prepare: async (context) => {
          const prebuilt = join(context, "prebuilt");
          await mkdir(join(prebuilt, "llama.cpp", "bin"), { recursive: true });
          for (const bin of [llama.llamaServer, llama.rpcServer]) {
            await cp(bin, join(prebuilt, "llama.cpp", "bin", basename(bin)));
          }
          const nodeModules = await productionNodeModules(app, log);
          await rename(app, join(prebuilt, "app"));
          await cp(nodeModules, join(prebuilt, "app", "node_modules"), {
            recursive: true,
            verbatimSymlinks: true,
          });
        },
      },
      log,
    );
  } finally {
    await rm(staged, { recursive: true, force: true });
  }
}

/**
 * `npm ci --omit=dev` for the staged app, once per lockfile and set of
 * manifests: cached beside the image archives, pruned by stage-app.mjs.
 */
async function productionNodeModules(app: string, log: (line: string) => void): Promise<string> {
  const hash = new InputHash().text("npm", NPM_CI_PRODUCTION.join(" "));
  await hash.file("stage-app.mjs", STAGE_APP); // its --prune runs on the result
  for (const rel of (await readdir(app, { recursive: true })).sort()) {
    if (rel === "package-lock.json" || basename(rel) === "package.json") await hash.file(rel, join(app, rel));
  }
  const cached = join(imagesCacheDir(), `app-node-modules-${hash.digest().slice(0, 20)}`);
  if (existsSync(cached)) return cached;
  log("images: npm ci --omit=dev for the Strata image (once per lockfile)");
  const work = await mkdtemp(join(imagesCacheDir(), "npm-ci-"));
  try {
    await cp(app, work, { recursive: true });
    await runCommand("npm", NPM_CI_PRODUCTION, { cwd: work, nice: true });
    await runCommand(process.execPath, [STAGE_APP, "--prune", work]);
    await removeOthers("app-node-modules-");
    await rename(join(work, "node_modules"), cached);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return cached;
}

async function removeOthers(prefix: string): Promise<void> {
  for (const entry of await readdir(imagesCacheDir())) {
    if (entry.startsWith(prefix)) await rm(join(imagesCacheDir(), entry), { recursive: true, force: true });
  }
}
