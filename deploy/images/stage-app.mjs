#!/usr/bin/env node
// Stages what the Strata image runs, from a checkout whose TypeScript is built:
//
//   node deploy/images/stage-app.mjs <checkout> <out>   copy manifests and JavaScript
//   (cd <out> && npm ci --omit=dev --ignore-scripts)
//   node deploy/images/stage-app.mjs --prune <out>       drop what only builds need
//
// The `strata` command's workspace (the one whose package.json has bin.strata)
// and the workspaces it depends on ship their compiled JavaScript; every
// workspace ships its package.json, because `npm ci` checks the lockfile
// against all of them. Used by deploy/images/Dockerfile and by the test setup
// (test/src/images/strata-image.ts), so both ship the same files.
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";

/** Files in dist/ that the image does not need: tests, declarations, source maps, build info. */
const SKIPPED_DIST_FILE = /(\.test\.js|\.d\.ts|\.map|\.tsbuildinfo)$/;

/**
 * node-llama-cpp is a dependency for its llama.cpp source and version: the
 * source is only for building, and its prebuilt engines (optional
 * dependencies, ~670 MB) are never loaded, since Strata runs its own llama.cpp
 * build. Other optional dependencies (native modules) stay.
 */
const BUILD_ONLY_PATHS = [
  "node_modules/node-llama-cpp/llama/gitRelease.bundle",
  "node_modules/@node-llama-cpp",
];

/**
 * Files in node_modules that Node never loads: source maps, TypeScript
 * sources and declarations (about 10,000 of 16,000 files, 70 MB). Fewer files
 * make every node's image unpack faster. Licences and READMEs stay. (The
 * `typescript` package, a dependency of node-llama-cpp that Strata never
 * loads, loses its lib.*.d.ts with them.)
 */
const UNUSED_AT_RUNTIME = /\.(map|ts|mts|cts)$/;

function fail(message) {
  console.error(`stage-app: ${message}`);
  process.exit(2);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    fail(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function workspaces(checkout) {
  const root = readJson(join(checkout, "package.json"));
  if (!Array.isArray(root.workspaces)) fail(`${checkout}/package.json lists no workspaces`);
  return root.workspaces.map((dir) => ({ dir, pkg: readJson(join(checkout, dir, "package.json")) }));
}

/** The strata command's workspace and every workspace it depends on, transitively. */
function shippedWorkspaces(all) {
  const byName = new Map(all.map((w) => [w.pkg.name, w]));
  const cli = all.find((w) => typeof w.pkg.bin === "object" && w.pkg.bin !== null && "strata" in w.pkg.bin);
  if (cli === undefined) fail("no workspace declares the `strata` bin");
  const shipped = new Set();
  const queue = [cli];
  while (queue.length > 0) {
    const w = queue.shift();
    if (shipped.has(w.dir)) continue;
    shipped.add(w.dir);
    for (const dep of Object.keys(w.pkg.dependencies ?? {})) {
      const next = byName.get(dep);
      if (next !== undefined) queue.push(next);
    }
  }
  return shipped;
}

function stage(checkout, out) {
  const all = workspaces(checkout);
  const shipped = shippedWorkspaces(all);
  mkdirSync(out, { recursive: true });
  for (const file of ["package.json", "package-lock.json"])
    copyFileSync(join(checkout, file), join(out, file));
  for (const { dir, pkg } of all) {
    mkdirSync(join(out, dir), { recursive: true });
    copyFileSync(join(checkout, dir, "package.json"), join(out, dir, "package.json"));
    if (!shipped.has(dir)) continue;
    const dist = join(checkout, dir, "dist");
    if (!existsSync(dist)) fail(`${dist} is missing: run \`npx tsc --build\` first`);
    cpSync(dist, join(out, dir, "dist"), {
      recursive: true,
      filter: (src) => statSync(src).isDirectory() || !SKIPPED_DIST_FILE.test(src),
    });
    for (const bin of Object.values(pkg.bin ?? {})) {
      const target = join(out, dir, bin);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(checkout, dir, bin), target);
    }
  }
  console.log(`stage-app: staged ${[...shipped].join(", ")} into ${relative(process.cwd(), out) || "."}`);
}

function prune(out) {
  for (const path of BUILD_ONLY_PATHS) rmSync(join(out, path), { recursive: true, force: true });
  removeMatching(join(out, "node_modules"), UNUSED_AT_RUNTIME);
}

/** Deletes files whose names match, below `dir`; never follows links (workspaces are links). */
function removeMatching(dir, pattern) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removeMatching(path, pattern);
    else if (entry.isFile() && pattern.test(entry.name)) rmSync(path);
  }
}

const args = process.argv.slice(2);
if (args.length === 2 && args[0] === "--prune") prune(args[1]);
else if (args.length === 2 && !args[0].startsWith("-")) stage(args[0], args[1]);
else fail("usage: stage-app.mjs <checkout> <out> | stage-app.mjs --prune <out>");
