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
type Check = (value: unknown) => string | undefined;

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
  n: intAtLeast(1),
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

function checkMessages(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0) return "must be a non-empty array of messages";
  for (const [i, m] of v.entries()) {
    if (typeof m !== "object" || m === null || Array.isArray(m)) return `[${i}] must be an object`;
    const { role, content } = m as Json;
    if (typeof role !== "string" || role === "") return `[${i}].role must be a non-empty string`;
    const okContent = content === undefined || content === null || typeof content === "string";
    if (!okContent && !Array.isArray(content)) return `[${i}].content must be a string or an array of parts`;
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
    if (problem !== undefined) {
      const where = problem.startsWith("[") ? `${param}${problem.split(" ")[0]}` : param;
      throw invalidRequest(`Invalid value for '${param}': ${problem}.`, where, "invalid_type");
    }
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
