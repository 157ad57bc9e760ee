import { type ChildProcess, spawn } from "node:child_process";
import { STRATA_BIN } from "../strata-bin.js";
import { descendants, isAlive, waitFor } from "./processes.js";

/** A `strata` CLI run as a user runs it, with its output captured. */
export class StrataRun {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every process seen under this run, for the no-orphans check. */
  readonly seenPids = new Set<number>();

  /** `env` is added to this process's environment. */
  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [STRATA_BIN, ...args], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    this.child.stdout?.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    // Record the process tree while the run lives, so the no-orphans check
    // also covers processes that came and went during start-up.
    const sampler = setInterval(() => this.recordProcesses(), 100);
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        clearInterval(sampler);
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error("strata did not start");
    return this.child.pid;
  }

  /** Waits for the endpoint line; returns the base URL (…/v1 stripped). */
  async endpoint(timeoutMs = 240_000): Promise<string> {
    const url = await waitFor(
      "the OpenAI endpoint line",
      () => {
        if (this.child.exitCode !== null)
          throw new Error(`strata exited ${this.child.exitCode}: ${this.stderr}`);
        return /OpenAI endpoint: (http:\/\/\S+)\/v1/.exec(this.stdout)?.[1];
      },
      timeoutMs,
    );
    this.recordProcesses();
    return url;
  }

  recordProcesses(): number[] {
    const pids = descendants(this.pid);
    for (const pid of pids) this.seenPids.add(pid);
    return pids;
  }

  /** Ctrl-C as a terminal sends it, then the exit status. */
  async interrupt(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill("SIGINT");
    return await this.exited;
  }

  leftovers(): number[] {
    return [...this.seenPids, this.pid].filter(isAlive);
  }

  /** Test cleanup: whatever happened, nothing of this run survives. */
  forceCleanup(): void {
    for (const pid of [...this.seenPids, ...descendants(this.pid)]) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    try {
      process.kill(-this.pid, "SIGKILL");
    } catch {}
  }
}

export interface CompletionTokens {
  readonly tokens: readonly number[];
  readonly content: string;
}

/** Greedy completion via llama-server's native endpoint, which returns token ids. */
export async function completeGreedy(
  baseUrl: string,
  prompt: string,
  nPredict: number,
): Promise<CompletionTokens> {
  const response = await fetch(`${baseUrl}/completion`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt,
      n_predict: nPredict,
      temperature: 0,
      return_tokens: true,
      cache_prompt: false,
    }),
    signal: AbortSignal.timeout(120_000),
  });
  if (!response.ok) throw new Error(`completion failed: HTTP ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { tokens: number[]; content: string };
  return { tokens: body.tokens, content: body.content };
}

/** A streamed greedy completion: resolves `firstToken` when the first token arrives, `outcome` when it ends. */
export function streamGreedy(
  baseUrl: string,
  prompt: string,
  nPredict: number,
): { readonly firstToken: Promise<void>; readonly outcome: Promise<"completed" | "failed" | "hung"> } {
  let sawToken: () => void = () => {};
  const firstToken = new Promise<void>((resolve) => {
    sawToken = resolve;
  });
  const outcome = (async () => {
    try {
      const response = await fetch(`${baseUrl}/completion`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt, n_predict: nPredict, temperature: 0, stream: true, ignore_eos: true }),
        signal: AbortSignal.timeout(120_000),
      });
      if (!response.ok || !response.body) return "failed" as const;
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        if (text.includes('"content"')) sawToken();
        if (/"stop"\s*:\s*true/.test(text)) return "completed" as const;
      }
      return "failed" as const;
    } catch (err: unknown) {
      return err instanceof Error && err.name === "TimeoutError" ? ("hung" as const) : ("failed" as const);
    }
  })();
  return { firstToken, outcome };
}
