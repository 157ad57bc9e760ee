import { execFile } from "node:child_process";
import { type VllmGroupPlan, vllmServeCommand } from "@strata/shard-worker";
import { beforeAll, describe, expect, it } from "vitest";
import { installedVllm } from "./vllm-fixtures.js";

/**
 * vLLM's flags changed across releases; the builder's output is checked
 * against the installed vLLM's own `vllm serve --help=all` and vllm.envs.
 */

const BASE: VllmGroupPlan = {
  model: "/models/m",
  servedName: "m",
  tensorParallel: 1,
  pipelineParallel: 2,
  nodes: 2,
  masterAddr: "127.0.0.1",
  masterPort: 29500,
  host: "127.0.0.1",
  port: 8000,
  maxModelLen: 2048,
  dtype: "float32",
  stepTimeoutSeconds: 20,
  cpu: { kvCacheGiB: 1, threadsBind: ["0", "1"], compile: "trace-eager" },
};

const PLANS: [string, VllmGroupPlan, number][] = [
  ["PP=2 head", BASE, 0],
  ["PP=2 headless rank", BASE, 1],
  [
    "PP=2 headless rank on GPUs, with the plan's layer split",
    {
      ...BASE,
      cpu: undefined,
      layerPartition: [16, 14],
      hostIp: "10.0.0.6",
      gpuMemoryUtilization: 0.9,
      expertParallel: 1,
    },
    1,
  ],
  [
    "TP=2 on one node, inductor",
    {
      ...BASE,
      tensorParallel: 2,
      pipelineParallel: 1,
      nodes: 1,
      cpu: { kvCacheGiB: 1, threadsBind: ["0|1"], compile: "inductor" },
    },
    0,
  ],
];

/** Runs a command without blocking the event loop (vitest's worker must stay responsive). */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: { ...process.env, HF_HUB_OFFLINE: "1" }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${command} failed: ${stderr.slice(-2000)}`)) : resolve(stdout),
    );
  });
}

async function python(code: string): Promise<string> {
  return (await run(installedVllm().python, ["-c", code])).trim();
}

describe("vllm serve arguments against the installed vLLM", () => {
  let help = "";
  let envNames = new Set<string>();

  beforeAll(async () => {
    const vllm = installedVllm();
    help = await run(vllm.command[0], [vllm.command[1], "serve", "--help=all"]);
    envNames = new Set(
      JSON.parse(
        await python("import json, vllm.envs as e; print(json.dumps(sorted(e.environment_variables)))"),
      ) as string[],
    );
  }, 600_000);

  it("the help lists the multi-node flags under the names the builder uses", () => {
    for (const flag of ["--nnodes", "--node-rank", "--master-addr", "--master-port", "--headless"]) {
      expect(help).toMatch(new RegExp(`^\\s+(-[\\w-]+, )?${flag}(?=[\\s,=]|$)`, "m"));
    }
  });

  it.each(PLANS)("every flag of the %s exists in vllm serve --help=all", (_name, plan, rank) => {
    const { args, env } = vllmServeCommand(plan, rank);
    const flags = args.filter((a) => a.startsWith("--"));
    expect(flags.length).toBeGreaterThan(5);
    const missing = flags.filter(
      (flag) => !new RegExp(`^\\s+(-[\\w-]+, )?${flag}(?=[\\s,=]|$)`, "m").test(help),
    );
    expect(missing).toEqual([]);
    const vllmEnv = Object.keys(env).filter((k) => k.startsWith("VLLM_"));
    expect(vllmEnv.filter((k) => !envNames.has(k))).toEqual([]);
  });

  it('compilation mode 2 ("trace-eager") is DYNAMO_TRACE_ONCE in this vLLM', async () => {
    expect(await python("from vllm.config import CompilationMode; print(CompilationMode(2).name)")).toBe(
      "DYNAMO_TRACE_ONCE",
    );
  }, 120_000);
});
