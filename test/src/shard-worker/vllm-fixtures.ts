import { type VllmInstall, vllmInstalled, vllmInstallPaths } from "@strata/shard-worker";

/**
 * Real vLLM for tests: the environment `strata setup --engine vllm` installs
 * (scripts/test.sh runs it), and greedy requests that return vLLM's token ids.
 */

/** The installed vLLM; a test fails (never skips) when setup did not install it. */
export function installedVllm(): Omit<VllmInstall, "installed"> {
  if (!vllmInstalled()) {
    throw new Error("vLLM is not installed: run `npx strata setup --engine vllm` (scripts/test.sh does)");
  }
  return vllmInstallPaths();
}

/** An OpenAI endpoint (a gateway or a head) and the model name it serves. */
export interface Served {
  readonly baseUrl: string;
  readonly model: string;
}

export interface Completion {
  readonly text: string;
  readonly tokenIds: readonly number[];
}

const REQUEST_TIMEOUT_MS = 180_000;

/** Greedy completion (temperature 0) with the generated token ids (vLLM's return_token_ids). */
export async function greedyCompletion(to: Served, prompt: string, maxTokens: number): Promise<Completion> {
  const response = await fetch(`${to.baseUrl}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: to.model,
      prompt,
      max_tokens: maxTokens,
      temperature: 0,
      return_token_ids: true,
    }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await response.json()) as { choices: { text: string; token_ids: number[] }[] };
  if (response.status !== 200)
    throw new Error(`completion failed (${response.status}): ${JSON.stringify(body)}`);
  const choice = body.choices[0];
  if (!choice) throw new Error("completion without choices");
  return { text: choice.text, tokenIds: choice.token_ids };
}

/** The system message of every chat request the vLLM tests send. */
export const SYSTEM_MESSAGE = "You are a helpful assistant.";

/** Greedy chat answer (temperature 0) with the generated token ids, after {@link SYSTEM_MESSAGE}. */
export async function greedyChat(to: Served, question: string, maxTokens: number): Promise<Completion> {
  const response = await fetch(`${to.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: to.model,
      messages: [
        { role: "system", content: SYSTEM_MESSAGE },
        { role: "user", content: question },
      ],
      max_tokens: maxTokens,
      temperature: 0,
      return_token_ids: true,
    }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await response.json()) as {
    choices: { message: { content: string }; token_ids: number[] }[];
  };
  if (response.status !== 200) throw new Error(`chat failed (${response.status}): ${JSON.stringify(body)}`);
  const choice = body.choices[0];
  if (!choice) throw new Error("chat without choices");
  return { text: choice.message.content, tokenIds: choice.token_ids };
}
