import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readFile, readlink, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { strataCacheDir } from "../k8s/versions.js";

/**
 * Image archives live in ~/.cache/strata/images-<version>/, one OCI archive per
 * image, named by a hash of everything the image is built from: a warm run
 * finds the archive and builds nothing. Bump the version when the recipes
 * change in a way their inputs do not show.
 */
export const IMAGES_CACHE_VERSION = "1";

export function imagesCacheDir(): string {
  return join(strataCacheDir(), `images-${IMAGES_CACHE_VERSION}`);
}

/** A built image, as `buildah push oci-archive:` wrote it. */
export interface ImageArchive {
  /** The reference stored in the archive; `ctr images import` and pods use it as is. */
  readonly name: string;
  readonly path: string;
  /** Size of the archive (compressed layers, config and manifest). */
  readonly bytes: number;
}

/** Where the archive of `kind` built from inputs hashing to `key` lives. */
export function archivePath(kind: string, key: string): string {
  return join(imagesCacheDir(), `${kind}-${key.slice(0, 20)}.oci.tar`);
}

export async function archiveAt(name: string, path: string): Promise<ImageArchive> {
  return { name, path, bytes: (await stat(path)).size };
}

/** Removes archives of `kind` other than `keep`: an image whose inputs changed is rebuilt, never reused. */
export async function removeOtherArchives(kind: string, keep: string): Promise<void> {
  const dir = imagesCacheDir();
  for (const file of await readdir(dir)) {
    const path = join(dir, file);
    if (file.startsWith(`${kind}-`) && file.endsWith(".oci.tar") && path !== keep)
      await rm(path, { force: true });
  }
}

/** Hashes labelled inputs: strings, files and whole directory trees (paths, modes, contents, links). */
export class InputHash {
  private readonly hash: Hash = createHash("sha256");

  text(label: string, value: string): this {
    this.hash.update(`${label}\0${value}\0`);
    return this;
  }

  async file(label: string, path: string): Promise<this> {
    this.hash.update(`${label}\0`);
    for await (const chunk of createReadStream(path)) this.hash.update(chunk as Buffer);
    this.hash.update("\0");
    return this;
  }

  async tree(label: string, dir: string): Promise<this> {
    const entries = (await readdir(dir, { recursive: true })).sort();
    for (const rel of entries) {
      const path = join(dir, rel);
      const info = await lstat(path);
      if (info.isSymbolicLink()) this.text(`${label}/${rel}@`, await readlink(path));
      else if (info.isFile()) {
        this.text(`${label}/${rel}#`, String(info.mode & 0o777));
        this.hash.update(await readFile(path));
      }
    }
    return this;
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}
