import { invalidRequest } from "./openai-error.js";

/**
 * The endpoints the gateway forwards: OpenAI chat and text completions, and
 * llama.cpp's native `/completion` (for llama.cpp clients in local mode).
 */
export type CompletionKind = "chat" | "text" | "native";

/** What the router needs from a valid request; the body itself is forwarded byte for byte. */
export interface ValidRequest {
  readonly kind: CompletionKind;
  readonly model: string;
  readonly stream: boolean;
}

type Json = Record<string, unknown>;

/**
 * What is wrong with one parameter: a sentence about the parameter itself, or
 * one naming a part of it (`at`, e.g. `[2].role` under `messages`) and the
 * OpenAI error code (default `invalid_type`).
 */
type Problem = string | { readonly at: string; readonly message: string; readonly code: string };
type Check = (value: unknown) => Problem | undefined;

/**
 * The message roles of OpenAI's chat API
 * (https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages).
 * Anything else is refused here rather than passed to an engine, whose chat
 * template would render it as text of an unknown speaker.
 */
export const CHAT_ROLES = ["system", "developer", "user", "assistant", "tool"] as const;
const chatRoles: ReadonlySet<string> = new Set(CHAT_ROLES);

/** OpenAI's upper bound for `n`; the engine's own (its sequence slots) is usually lower. */
export const MAX_CHOICES = 128;

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

const numberIn =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === "number" && Number.isFinite(v) && v >= min && v <= max
      ? undefined
      : `must be a number between ${min} and ${max}`;
const intAtLeast =
  (min: number): Check =>
  (v) =>
    isInt(v) && v >= min ? undefined : `must be an integer >= ${min}`;
const bool: Check = (v) => (typeof v === "boolean" ? undefined : "must be a boolean");
const object: Check = (v) =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? undefined : "must be an object";
const stop: Check = (v) =>
  typeof v === "string" || (Array.isArray(v) && v.length <= 4 && v.every((s) => typeof s === "string"))
    ? undefined
    : "must be a string or an array of at most 4 strings";
const user: Check = (v) => (typeof v === "string" ? undefined : "must be a string");

/**
 * Parameters both endpoints share, with OpenAI's documented types and ranges
 * (https://platform.openai.com/docs/api-reference/chat/create). Parameters not
 * listed (engine extensions such as llama.cpp's `cache_prompt`) pass through.
 */
const commonChecks: Readonly<Record<string, Check>> = {
  stream: bool,
  stream_options: object,
  temperature: numberIn(0, 2),
  top_p: numberIn(0, 1),
  n: (v) =>
    isInt(v) && v >= 1 && v <= MAX_CHOICES ? undefined : `must be an integer between 1 and ${MAX_CHOICES}`,
  max_tokens: intAtLeast(0),
  presence_penalty: numberIn(-2, 2),
  frequency_penalty: numberIn(-2, 2),
  seed: (v) => (isInt(v) ? undefined : "must be an integer"),
  stop,
  logit_bias: object,
  user,
};

const chatChecks: Readonly<Record<string, Check>> = {
  ...commonChecks,
  max_completion_tokens: intAtLeast(0),
  logprobs: bool,
  top_logprobs: (v) => (isInt(v) && v >= 0 && v <= 20 ? undefined : "must be an integer between 0 and 20"),
  messages: checkMessages,
};

const textChecks: Readonly<Record<string, Check>> = {
  ...commonChecks,
  echo: bool,
  best_of: intAtLeast(1),
  logprobs: (v) => (v === null || (isInt(v) && v >= 0 && v <= 5) ? undefined : "must be an integer 0..5"),
  suffix: (v) => (v === null || typeof v === "string" ? undefined : "must be a string"),
  prompt: checkPrompt,
};

function checkMessages(v: unknown): Problem | undefined {
  if (!Array.isArray(v) || v.length === 0) return "must be a non-empty array of messages";
  const wrongType = (at: string, message: string) => ({ at, message, code: "invalid_type" });
  for (const [i, m] of v.entries()) {
    if (typeof m !== "object" || m === null || Array.isArray(m))
      return wrongType(`[${i}]`, "must be an object");
    const { role, content } = m as Json;
    if (typeof role !== "string" || role === "")
      return wrongType(`[${i}].role`, "must be a non-empty string");
    if (!chatRoles.has(role)) {
      return {
        at: `[${i}].role`,
        message: `${JSON.stringify(role)} is not a role; supported roles are ${CHAT_ROLES.join(", ")}`,
        code: "invalid_value",
      };
    }
    const okContent = content === undefined || content === null || typeof content === "string";
    if (!okContent && !Array.isArray(content))
      return wrongType(`[${i}].content`, "must be a string or an array of parts");
  }
  return undefined;
}

function checkPrompt(v: unknown): string | undefined {
  if (typeof v === "string") return undefined;
  if (Array.isArray(v) && v.length > 0) {
    if (v.every((p) => typeof p === "string")) return undefined;
    if (v.every(isInt)) return undefined;
    if (v.every((p) => Array.isArray(p) && p.length > 0 && p.every(isInt))) return undefined;
  }
  return "must be a string, an array of strings, an array of token ids or an array of token-id arrays";
}

/**
 * Parses and checks a completion request body. Throws an OpenAIError (400)
 * naming the bad parameter; never throws anything else.
 */
export function validateCompletionBody(kind: CompletionKind, raw: Buffer): ValidRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch (err: unknown) {
    const why = err instanceof Error ? err.message : String(err);
    throw invalidRequest(`We could not parse the JSON body of your request: ${why}`, null, "invalid_json");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalidRequest("The request body must be a JSON object.", null, "invalid_json");
  }
  const body = parsed as Json;
  if (kind === "native") return validateNative(body);
  if (typeof body.model !== "string" || body.model === "") {
    throw invalidRequest("you must provide a model parameter (a non-empty string)", "model");
  }
  const required = kind === "chat" ? "messages" : "prompt";
  if (body[required] === undefined)
    throw invalidRequest(`Missing required parameter: '${required}'.`, required);
  const checks = kind === "chat" ? chatChecks : textChecks;
  for (const [param, check] of Object.entries(checks)) {
    const value = body[param];
    if (value === undefined) continue;
    const problem = check(value);
    if (problem === undefined) continue;
    if (typeof problem === "string") {
      throw invalidRequest(`Invalid value for '${param}': ${problem}.`, param, "invalid_type");
    }
    const where = `${param}${problem.at}`;
    throw invalidRequest(`Invalid value for '${where}': ${problem.message}.`, where, problem.code);
  }
  return { kind, model: body.model, stream: body.stream === true };
}

/** llama.cpp's `/completion`: `model` is optional (empty: the gateway's only model), `prompt` required. */
function validateNative(body: Json): ValidRequest {
  if (body.model !== undefined && typeof body.model !== "string") {
    throw invalidRequest("Invalid value for 'model': must be a string.", "model", "invalid_type");
  }
  if (body.prompt === undefined) throw invalidRequest("Missing required parameter: 'prompt'.", "prompt");
  if (body.stream !== undefined && typeof body.stream !== "boolean") {
    throw invalidRequest("Invalid value for 'stream': must be a boolean.", "stream", "invalid_type");
  }
  return {
    kind: "native",
    model: typeof body.model === "string" ? body.model : "",
    stream: body.stream === true,
  };
}
