import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import OpenAI from "openai";
import type { RealCluster } from "../k8s/index.js";

/** The gateway Service through its NodePort on the first node: how the host reaches a Service. */
export async function gatewayBaseUrl(
  kc: KubeConfig,
  cluster: RealCluster,
  namespace: string,
  service: string,
): Promise<string> {
  const svc = await kc.makeApiClient(CoreV1Api).readNamespacedService({ namespace, name: service });
  const nodePort = svc.spec?.ports?.find((p) => p.name === "http")?.nodePort;
  const node = cluster.nodes[0];
  if (nodePort === undefined || node === undefined) throw new Error(`Service ${service} has no NodePort`);
  return `http://${node.ip}:${nodePort}`;
}

/** The official OpenAI client against the gateway; no retries of its own, so every failure counts. */
export function openaiClient(baseUrl: string): OpenAI {
  return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "none", maxRetries: 0, timeout: 120_000 });
}

/** llama-server's per-token log-probabilities on /v1/completions carry the token ids. */
interface LlamaLogprobs {
  readonly content?: readonly { readonly id: number; readonly token: string }[];
}

/** A greedy completion through the gateway, with its token ids (asked as log-probabilities). */
export async function greedyTokens(
  client: OpenAI,
  model: string,
  prompt: string,
  maxTokens: number,
): Promise<{ tokens: number[]; text: string }> {
  const completion = await client.completions.create({
    model,
    prompt,
    max_tokens: maxTokens,
    temperature: 0,
    logprobs: 1,
    // @ts-expect-error llama.cpp extension: evaluate the whole prompt afresh, as the reference does
    cache_prompt: false,
  });
  const choice = completion.choices[0];
  const logprobs = choice?.logprobs as LlamaLogprobs | null | undefined;
  return { tokens: (logprobs?.content ?? []).map((t) => t.id), text: choice?.text ?? "" };
}

/**
 * Streams a completion and resolves `firstToken` at its first non-empty
 * chunk; `outcome` says how the stream ended: completed, or the error it
 * ended with. The stream is aborted after `timeoutMs` (a hang).
 */
export function streamCompletion(
  client: OpenAI,
  model: string,
  prompt: string,
  maxTokens: number,
  timeoutMs: number,
): {
  firstToken: Promise<void>;
  outcome: Promise<{ ok: true } | { ok: false; error: string; hung: boolean }>;
} {
  let gotFirst: () => void = () => {};
  let noFirst: (err: unknown) => void = () => {};
  const firstToken = new Promise<void>((resolve, reject) => {
    gotFirst = resolve;
    noFirst = reject;
  });
  const signal = AbortSignal.timeout(timeoutMs);
  const outcome = (async () => {
    try {
      const stream = await client.completions.create(
        // ignore_eos, llama.cpp's extension: the stream runs its full length, whatever the model says.
        {
          model,
          prompt,
          max_tokens: maxTokens,
          temperature: 0,
          stream: true,
          ignore_eos: true,
        } as OpenAI.Completions.CompletionCreateParamsStreaming,
        { signal },
      );
      for await (const chunk of stream) {
        if ((chunk.choices[0]?.text ?? "") !== "") gotFirst();
      }
      noFirst(new Error("the stream ended without a token"));
      return { ok: true as const };
    } catch (err: unknown) {
      noFirst(err);
      const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return { ok: false as const, error, hung: signal.aborted };
    }
  })();
  firstToken.catch(() => undefined);
  return { firstToken, outcome };
}

/** Asks for a short completion every `intervalMs` until one succeeds; resolves with the time it did. */
export async function untilServed(
  client: OpenAI,
  model: string,
  timeoutMs: number,
  intervalMs = 500,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const done = await client.completions.create(
        { model, prompt: "Hello", max_tokens: 2, temperature: 0 },
        { timeout: 30_000 },
      );
      if ((done.choices[0]?.text ?? "") !== "") return Date.now();
      last = "an empty completion";
    } catch (err: unknown) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`no completion served within ${timeoutMs} ms (last: ${last})`);
}
