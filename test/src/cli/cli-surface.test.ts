import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { STRATA_BIN } from "./plan-fixtures.js";

// The CLI as a whole: usage errors stay one line, a closed pipe is not a crash,
// and the on-demand command loading still lists every command.
describe("strata CLI surface", () => {
  it("lists every command in the top-level help", () => {
    const r = spawnSync(process.execPath, [STRATA_BIN, "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    for (const name of [
      "plan",
      "up",
      "worker",
      "status",
      "gateway",
      "controller",
      "model",
      "setup",
      "bench",
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    }
  });

  it.each([
    ["unknown command", ["bogus"], /unknown command 'bogus'/],
    ["unknown option", ["plan", "--frobnicate"], /unknown option '--frobnicate'/],
    ["option without its value", ["plan", "--nodes"], /option '--nodes <n>' argument missing/],
  ])("%s: one line on stderr, exit 2", (_name, args, message) => {
    const r = spawnSync(process.execPath, [STRATA_BIN, ...args], { encoding: "utf8" });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it.each([
    ["no environment at all", {}, /^strata: STRATA_DEPLOYMENT: is required but not set$/],
    [
      "one variable missing",
      { STRATA_DEPLOYMENT: "demo" },
      /^strata: STRATA_REPLICA: is required but not set$/,
    ],
    [
      "a stage outside its layers",
      {
        STRATA_DEPLOYMENT: "demo",
        STRATA_REPLICA: "0",
        STRATA_STAGE: "2",
        STRATA_STAGE_LAYERS: "0-5,6-11",
        STRATA_ENGINE: "llamacpp",
        STRATA_MODEL_PATH: "/models/m.gguf",
        STRATA_SERVED_MODEL_NAME: "m",
        STRATA_MAX_MODEL_LENGTH: "512",
      },
      /^strata: STRATA_STAGE: 2 is not one of the 2 stages$/,
    ],
    [
      "a head whose model file is missing",
      {
        STRATA_DEPLOYMENT: "demo",
        STRATA_REPLICA: "0",
        STRATA_STAGE: "0",
        STRATA_STAGE_LAYERS: "0-11",
        STRATA_ENGINE: "llamacpp",
        STRATA_MODEL_PATH: "/models/missing.gguf",
        STRATA_SERVED_MODEL_NAME: "m",
        STRATA_MAX_MODEL_LENGTH: "512",
      },
      /^strata: STRATA_MODEL_PATH: \/models\/missing\.gguf does not exist on this node$/,
    ],
  ])("strata worker with %s: one line naming the variable, exit 2", (_name, env, message) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("STRATA_")));
    const r = spawnSync(process.execPath, [STRATA_BIN, "worker"], {
      encoding: "utf8",
      env: { ...clean, ...env },
    });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it("ends quietly when the reader closes the pipe before reading", () => {
    // `true` exits without reading, so every write the CLI makes meets a closed pipe.
    const cmd = `"${process.execPath}" "${STRATA_BIN}" plan --model llama-3.1-405b --gpu h100-sxm-80g --nodes 2`;
    const r = spawnSync("bash", ["-c", `set -o pipefail; ${cmd} | true`], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
