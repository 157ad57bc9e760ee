import { existsSync } from "node:fs";
import { Buildah } from "./buildah.js";
import { archiveAt, archivePath, type ImageArchive, removeOtherArchives } from "./cache.js";

export interface ImageRecipe {
  /** Archive file prefix in the cache, e.g. `strata`. */
  readonly kind: string;
  /** The reference the image gets, e.g. `localhost/strata-test/nats:2.12.15`. */
  readonly name: string;
  /** Hash of every input; the archive is reused while it matches. */
  readonly key: string;
  readonly dockerfile: string;
  /** Fills the build context directory. */
  prepare(context: string): Promise<void>;
  readonly buildArgs?: Readonly<Record<string, string>>;
}

/** The recipe's archive from the cache, or built now with `buildah bud` and cached. */
export async function ensureImage(recipe: ImageRecipe, log: (line: string) => void): Promise<ImageArchive> {
  const archive = archivePath(recipe.kind, recipe.key);
  if (existsSync(archive)) return archiveAt(recipe.name, archive);
  log(`images: building ${recipe.name}`);
  const started = Date.now();
  const buildah = await Buildah.open(log);
  try {
    const context = await buildah.scratch("context");
    await recipe.prepare(context);
    await buildah.bud(recipe.name, recipe.dockerfile, context, recipe.buildArgs ?? {});
    await buildah.pushArchive(recipe.name, archive);
  } finally {
    await buildah.close();
  }
  await removeOtherArchives(recipe.kind, archive);
  const built = await archiveAt(recipe.name, archive);
  log(`images: built ${recipe.name} in ${secondsSince(started)} s (archive ${megabytes(built.bytes)} MB)`);
  return built;
}

export function secondsSince(startedMs: number): string {
  return ((Date.now() - startedMs) / 1000).toFixed(1);
}

export function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}
