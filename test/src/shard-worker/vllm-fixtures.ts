import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freeLoopbackPort } from "@strata/runtime";
import {
  convertGgufToHf,
  tcpProbe,
  type VllmGroupPlan,
  type VllmInstall,
  vllmInstalled,
  vllmInstallPaths,
  vllmServeCommand,
} from "@strata/shard-worker";
import { smollm2Path } from "./real-model.js";

/**
 * Real vLLM processes for tests: the environment `strata setup --engine vllm`
 * installs (scripts/test.sh runs it), SmolLM2 converted to a Hugging Face
 * folder, and a group of `vllm serve` nodes on loopback, each in its own
 * process group so a test can kill one node (or all) outright.
 */

/** The installed vLLM; a test fails (never skips) when setup did not install it. */
export function installedVllm(): Omit<VllmInstall, "installed"> {
  if (!vllmInstalled()) {
    throw new Error("vLLM is not installed: run `npx strata setup --engine vllm` (scripts/test.sh does)");
  }
  return vllmInstallPaths();
}

/** SmolLM2-135M-Instruct as a Hugging Face folder under `dir` (the pull is offline once cached). */
export async function smollm2HfFolder(dir: string): Promise<string> {
  const gguf = await smollm2Path();
  const out = join(dir, "smollm2-hf");
  if (!existsSync(join(out, "config.json"))) await convertGgufToHf(gguf, out, { log: () => {} });
  return out;
}

export interface VllmNode {
  readonly rank: number;
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly exited: Promise<number | null>;
}

const READY_TIMEOUT_MS = 600_000;
const STOP_GRACE_MS = 20_000;
const POLL_MS = 500;

/** A running group: node 0 serves the API on `baseUrl`. */
export class VllmGroup {
  private constructor(
    readonly plan: VllmGroupPlan,
    readonly nodes: readonly VllmNode[],
    readonly baseUrl: string,
    readonly startMs: number,
  ) {}

  /**
   * Starts every node of `plan` (host/port/masterPort filled in with free
   * loopback ports), node 0 first; nodes above 0 start once node 0 listens on
   * the master port, as a worker would. Resolves when node 0 answers a
   * 1-token completion (readiness by canary: /health alone misses a dead rank).
   */
  static async start(
    plan: Omit<VllmGroupPlan, "host" | "port" | "masterAddr" | "masterPort">,
    logDir: string,
  ): Promise<VllmGroup> {
    const vllm = installedVllm();
    const full: VllmGroupPlan = {
      ...plan,
      host: "127.0.0.1",
      port: await freeLoopbackPort(),
      masterAddr: "127.0.0.1",
      masterPort: await freeLoopbackPort(),
    };
    const started = Date.now();
    const nodes: VllmNode[] = [];
    const group = new VllmGroup(full, nodes, `http://127.0.0.1:${full.port}`, 0);
    try {
      for (let rank = 0; rank < full.nodes; rank++) {
        if (rank > 0) await waitFor(tcpProbe("127.0.0.1", full.masterPort), nodes, "node 0's master port");
        nodes.push(spawnNode(vllm.command, full, rank, logDir));
      }
      await waitFor(() => group.canary(), nodes, "a 1-token completion");
    } catch (err: unknown) {
      await group.stop();
      throw err;
    }
    return new VllmGroup(full, nodes, group.baseUrl, Date.now() - started);
  }

  /** True when node 0 completes one token within `timeoutMs`. */
  async canary(timeoutMs = 30_000): Promise<boolean> {
    try {
      const response = await fetch(`${this.baseUrl}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: this.plan.servedName, prompt: "Hi", max_tokens: 1 }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * Stops every node: SIGTERM to each process group, then waits until every
   * member (vLLM's EngineCore and workers included) is gone, so they clean up
   * their shared memory; SIGKILL only after a grace period.
   */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        const pid = node.child.pid;
        if (pid === undefined) return;
        signalGroup(pid, "SIGTERM");
        const deadline = Date.now() + STOP_GRACE_MS;
        while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        if (groupAlive(pid)) signalGroup(pid, "SIGKILL");
        await node.exited;
      }),
    );
  }

  /** The KV capacity node 0's engine logged at start ("CPU KV cache size: N tokens"). */
  kvCacheTokens(): number {
    const match = /KV cache size: ([\d,]+) tokens/.exec(this.log(0));
    if (!match?.[1]) throw new Error("node 0 logged no KV cache size");
    return Number(match[1].replaceAll(",", ""));
  }

  log(rank: number): string {
    const node = this.nodes[rank];
    return node ? readFileSync(node.logPath, "utf8") : "";
  }
}

function spawnNode(
  command: readonly [string, string],
  plan: VllmGroupPlan,
  rank: number,
  logDir: string,
): VllmNode {
  const { args, env } = vllmServeCommand(plan, rank);
  const logPath = join(logDir, `vllm-node-${rank}.log`);
  const out = createWriteStream(logPath);
  const child = spawn(command[0], [command[1], ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { rank, child, logPath, exited };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(
  check: () => Promise<boolean>,
  nodes: readonly VllmNode[],
  what: string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const dead = nodes.find((n) => n.child.exitCode !== null || n.child.signalCode !== null);
    if (dead) {
      const tail = readFileSync(dead.logPath, "utf8").trim().split("\n").slice(-15).join("\n");
      throw new Error(`vLLM node ${dead.rank} exited while waiting for ${what}:\n${tail}`);
    }
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`vLLM: no ${what} after ${READY_TIMEOUT_MS} ms`);
}

export interface Completion {
  readonly text: string;
  readonly tokenIds: readonly number[];
}

/** Greedy completion (temperature 0) with the generated token ids. */
export async function greedyCompletion(
  group: VllmGroup,
  prompt: string,
  maxTokens: number,
): Promise<Completion> {
  const response = await fetch(`${group.baseUrl}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: group.plan.servedName,
      prompt,
      max_tokens: maxTokens,
      temperature: 0,
      return_token_ids: true,
    }),
    signal: AbortSignal.timeout(120_000),
  });
  const body = (await response.json()) as { choices: { text: string; token_ids: number[] }[] };
  if (response.status !== 200)
    throw new Error(`completion failed (${response.status}): ${JSON.stringify(body)}`);
  const choice = body.choices[0];
  if (!choice) throw new Error("completion without choices");
  return { text: choice.text, tokenIds: choice.token_ids };
}

/** Greedy chat answer (temperature 0) with the generated token ids. */
export async function greedyChat(group: VllmGroup, question: string, maxTokens: number): Promise<Completion> {
  const response = await fetch(`${group.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: group.plan.servedName,
      messages: [{ role: "user", content: question }],
      max_tokens: maxTokens,
      temperature: 0,
      return_token_ids: true,
    }),
    signal: AbortSignal.timeout(120_000),
  });
  const body = (await response.json()) as {
    choices: { message: { content: string }; token_ids: number[] }[];
  };
  if (response.status !== 200) throw new Error(`chat failed (${response.status}): ${JSON.stringify(body)}`);
  const choice = body.choices[0];
  if (!choice) throw new Error("chat without choices");
  return { text: choice.message.content, tokenIds: choice.token_ids };
}
