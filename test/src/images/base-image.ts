import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { runCommand } from "../host/commands.js";
import { megabytes, secondsSince } from "./build-image.js";
import { Buildah } from "./buildah.js";
import { archiveAt, archivePath, type ImageArchive, InputHash, removeOtherArchives } from "./cache.js";

/**
 * The local stand-in for `node:20-slim`, where no registry can be pulled:
 * `debootstrap --variant=minbase` of Debian bookworm plus this machine's Node
 * 20 binary and npm, committed with buildah. libgomp1 is added because
 * llama.cpp links OpenMP. Apt lists and caches, docs, man pages and message
 * catalogues are dropped (as the official slim images do).
 */
export const DEBIAN_SUITE = "bookworm";
export const DEBIAN_MIRROR = "http://deb.debian.org/debian";
const EXTRA_PACKAGES = ["libgomp1"];
const TRIMMED = [
  "var/cache/apt",
  "var/lib/apt/lists",
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
];
const RECIPE = "debootstrap minbase, trimmed, node+npm in /usr/local (v1)";
const KIND = "base";

export function baseImageName(): string {
  return `localhost/strata-test/base:${DEBIAN_SUITE}-node${process.versions.node}`;
}

/** The base image archive, built on first use (about 2 minutes: debootstrap downloads ~80 packages). */
export async function ensureBaseImage(log: (line: string) => void): Promise<ImageArchive> {
  const node = process.execPath;
  const npm = join(dirname(node), "..", "lib", "node_modules", "npm");
  const key = new InputHash()
    .text("recipe", RECIPE)
    .text("debian", `${DEBIAN_SUITE} ${DEBIAN_MIRROR} ${EXTRA_PACKAGES.join(",")}`)
    .text("node", process.version)
    .text("npm", existsSync(npm) ? npm : "none")
    .digest();
  const archive = archivePath(KIND, key);
  const name = baseImageName();
  if (existsSync(archive)) return archiveAt(name, archive);

  log(`images: building ${name} (debootstrap ${DEBIAN_SUITE}, first time only)`);
  const started = Date.now();
  const buildah = await Buildah.open(log);
  try {
    const rootfs = await buildah.scratch("rootfs");
    await runCommand(
      "debootstrap",
      ["--variant=minbase", `--include=${EXTRA_PACKAGES.join(",")}`, DEBIAN_SUITE, rootfs, DEBIAN_MIRROR],
      { nice: true },
    );
    for (const path of TRIMMED) {
      const dir = join(rootfs, path);
      for (const entry of existsSync(dir) ? await readdir(dir) : []) {
        await rm(join(dir, entry), { recursive: true, force: true });
      }
    }
    const ctr = (await buildah.run(["from", "scratch"], { quiet: true })).trim();
    const mnt = (await buildah.run(["mount", ctr], { quiet: true })).trim();
    // Device nodes stay behind: the container runtime provides /dev.
    await runCommand("sh", [
      "-c",
      'tar -C "$1" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -cf - . | tar -C "$2" -xpf -',
      "sh",
      rootfs,
      mnt,
    ]);
    await mkdir(join(mnt, "usr/local/bin"), { recursive: true });
    await runCommand("cp", [node, join(mnt, "usr/local/bin/node")]);
    if (existsSync(npm)) {
      await mkdir(join(mnt, "usr/local/lib/node_modules"), { recursive: true });
      await runCommand("cp", ["-a", npm, join(mnt, "usr/local/lib/node_modules/")]);
      await runCommand("ln", [
        "-s",
        "../lib/node_modules/npm/bin/npm-cli.js",
        join(mnt, "usr/local/bin/npm"),
      ]);
      await runCommand("ln", [
        "-s",
        "../lib/node_modules/npm/bin/npx-cli.js",
        join(mnt, "usr/local/bin/npx"),
      ]);
    }
    await buildah.run(["umount", ctr], { quiet: true });
    await buildah.run(
      [
        "config",
        "--env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--cmd",
        "node",
        ctr,
      ],
      { quiet: true },
    );
    await buildah.run(["commit", "--quiet", ctr, name], { quiet: true });
    await buildah.pushArchive(name, archive);
  } finally {
    await buildah.close();
  }
  await removeOtherArchives(KIND, archive);
  const built = await archiveAt(name, archive);
  log(`images: built ${name} in ${secondsSince(started)} s (archive ${megabytes(built.bytes)} MB)`);
  return built;
}
