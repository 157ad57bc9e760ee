import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NATS_SERVER_VERSION, natsServerCacheDir } from "@strata/runtime";
import { CommandError, runCommand } from "../host/commands.js";
import { ensureImage } from "./build-image.js";
import { type ImageArchive, InputHash } from "./cache.js";

/** test/images/: Dockerfiles and sources of the test-only images. */
const TEST_IMAGES_DIR = fileURLToPath(new URL("../../images/", import.meta.url));

/** The sandbox image every test node's containerd names in `sandbox_image`. */
export const PAUSE_IMAGE = "localhost/strata-test/pause:1";
/** NATS for the test cluster; the chart's default stays the official `nats` image. */
export const NATS_IMAGE = `localhost/strata-test/nats:${NATS_SERVER_VERSION}`;

export async function ensurePauseImage(log: (line: string) => void): Promise<ImageArchive> {
  const dir = join(TEST_IMAGES_DIR, "pause");
  const dockerfile = join(dir, "Dockerfile");
  const source = join(dir, "pause.c");
  const key = (await (await new InputHash().file("Dockerfile", dockerfile)).file("pause.c", source)).digest();
  return ensureImage(
    {
      kind: "pause",
      name: PAUSE_IMAGE,
      key,
      dockerfile,
      prepare: async (context) => {
        await runCommand("cc", ["-static", "-Os", "-s", "-o", join(context, "pause"), source]);
      },
    },
    log,
  );
}

export async function ensureNatsImage(log: (line: string) => void): Promise<ImageArchive> {
  const dockerfile = join(TEST_IMAGES_DIR, "nats", "Dockerfile");
  const binary = join(natsServerCacheDir(), "nats-server");
  const hash = new InputHash().text("version", NATS_SERVER_VERSION);
  try {
    await hash.file("nats-server", binary);
  } catch (err: unknown) {
    throw new CommandError(`${binary} is missing: run \`npx strata setup\` first`, { cause: err });
  }
  await hash.file("Dockerfile", dockerfile);
  return ensureImage(
    {
      kind: "nats",
      name: NATS_IMAGE,
      key: hash.digest(),
      dockerfile,
      prepare: (context) => copyFile(binary, join(context, "nats-server")),
    },
    log,
  );
}
