// Container images without a daemon: a local Debian base with this machine's
// Node, the Strata image (deploy/images/Dockerfile), and the test-only pause
// and NATS images, built with buildah and cached as OCI archives under
// ~/.cache/strata/images-<version>/. See README "Kubernetes test harness".
export { baseImageName, DEBIAN_SUITE, ensureBaseImage } from "./base-image.js";
export { type ImageArchive, imagesCacheDir } from "./cache.js";
export { ensureNatsImage, ensurePauseImage, NATS_IMAGE, PAUSE_IMAGE } from "./small-images.js";
export { ensureStrataImage } from "./strata-image.js";

import type { ImageArchive } from "./cache.js";
import { ensureNatsImage, ensurePauseImage } from "./small-images.js";
import { ensureStrataImage } from "./strata-image.js";

/** Every image a real test node runs. */
export interface TestImages {
  readonly pause: ImageArchive;
  readonly nats: ImageArchive;
  readonly strata: ImageArchive;
}

/** Builds what is missing or stale; a warm cache only hashes the inputs (a second or two). */
export async function ensureTestImages(log: (line: string) => void = console.log): Promise<TestImages> {
  const pause = await ensurePauseImage(log);
  const nats = await ensureNatsImage(log);
  const strata = await ensureStrataImage(log);
  return { pause, nats, strata };
}
