import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "../host/commands.js";
import { unmountUnder } from "../host/mounts.js";
import { imagesCacheDir } from "./cache.js";

/**
 * buildah without a daemon, on storage of its own: the vfs driver (plain
 * directories, works on any filesystem), chroot isolation for RUN steps, and a
 * throwaway storage root per build, so nothing accumulates between builds.
 * Images leave it only as OCI archives.
 */
export class Buildah {
  private constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Makes a scratch storage root under the image cache (same filesystem as the archives). */
  static async open(log: (line: string) => void): Promise<Buildah> {
    await mkdir(imagesCacheDir(), { recursive: true });
    return new Buildah(await mkdtemp(join(imagesCacheDir(), "buildah-")), log);
  }

  /** A scratch directory inside this build's root, removed by close(). */
  async scratch(name: string): Promise<string> {
    const path = join(this.dir, "work", name);
    await mkdir(path, { recursive: true });
    return path;
  }

  run(args: readonly string[], opts: { cwd?: string; quiet?: boolean } = {}): Promise<string> {
    const global = [
      "--root",
      join(this.dir, "storage"),
      "--runroot",
      join(this.dir, "run"),
      "--storage-driver",
      "vfs",
    ];
    return runCommand("buildah", [...global, ...args], {
      cwd: opts.cwd,
      nice: true,
      env: { ...process.env, TMPDIR: this.dir, BUILDAH_ISOLATION: "chroot" },
      ...(opts.quiet === true ? {} : { onLine: (line) => this.log(`  ${line}`) }),
    });
  }

  /** `buildah bud` of `dockerfile` in `context`, tagged `name`. */
  async bud(
    name: string,
    dockerfile: string,
    context: string,
    buildArgs: Readonly<Record<string, string>>,
  ): Promise<void> {
    const args = Object.entries(buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
    await this.run([
      "bud",
      "--isolation",
      "chroot",
      "--layers=false",
      "-f",
      dockerfile,
      ...args,
      "-t",
      name,
      context,
    ]);
  }

  /** Writes the image to `archive` (atomically: a temp file renamed into place). */
  async pushArchive(name: string, archive: string): Promise<void> {
    const partial = `${archive}.partial`;
    await rm(partial, { force: true });
    await this.run(["push", "--quiet", name, `oci-archive:${partial}:${name}`], { quiet: true });
    await rename(partial, archive);
  }

  /** Removes the storage root, its containers' mounts included. */
  async close(): Promise<void> {
    await this.run(["rm", "--all"], { quiet: true }).catch(() => undefined);
    await unmountUnder(this.dir);
    await rm(this.dir, { recursive: true, force: true });
  }
}
