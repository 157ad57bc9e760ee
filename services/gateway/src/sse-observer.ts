/**
 * Watches a completion response as it passes through (without delaying it)
 * to time tokens and read token counts. Streaming bodies are SSE
 * (`data: {...}\n\n`, ending with `data: [DONE]`); each event with non-empty
 * text is one token step. Counts come from `usage` (OpenAI) or, failing
 * that, llama.cpp's `timings.prompt_n` / `timings.predicted_n`.
 */
export interface TokenStats {
  /** Epoch-relative ms (performance.now()) of the first token event, if any. */
  firstTokenAtMs: number | undefined;
  /** Gaps between consecutive token events, ms. */
  readonly gapsMs: number[];
  tokenEvents: number;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
}

type Json = Record<string, unknown>;
const maxBufferedNonStreamBytes = 1024 * 1024;

function hasText(choice: unknown): boolean {
  if (typeof choice !== "object" || choice === null) return false;
  const c = choice as Json;
  if (typeof c.text === "string" && c.text !== "") return true;
  // llama.cpp's native /completion streams `{"content": "..."}` without choices.
  if (typeof c.content === "string" && c.content !== "") return true;
  const delta = c.delta as Json | undefined;
  if (typeof delta !== "object" || delta === null) return false;
  return (
    (typeof delta.content === "string" && delta.content !== "") ||
    (typeof delta.reasoning_content === "string" && delta.reasoning_content !== "")
  );
}

function readCounts(obj: Json, stats: TokenStats): void {
  const usage = obj.usage as Json | undefined;
  if (typeof usage === "object" && usage !== null) {
    if (typeof usage.prompt_tokens === "number") stats.inputTokens = usage.prompt_tokens;
    if (typeof usage.completion_tokens === "number") stats.outputTokens = usage.completion_tokens;
    return;
  }
  const timings = obj.timings as Json | undefined;
  if (typeof timings === "object" && timings !== null) {
    if (typeof timings.prompt_n === "number") stats.inputTokens = timings.prompt_n;
    if (typeof timings.predicted_n === "number") stats.outputTokens = timings.predicted_n;
  }
}

export class ResponseObserver {
  readonly stats: TokenStats = {
    firstTokenAtMs: undefined,
    gapsMs: [],
    tokenEvents: 0,
    inputTokens: undefined,
    outputTokens: undefined,
  };
  private readonly stream: boolean;
  private readonly now: () => number;
  private pending = "";
  private lastTokenAtMs: number | undefined;
  private readonly bodyParts: Buffer[] = [];
  private bodyBytes = 0;

  constructor(stream: boolean, now: () => number) {
    this.stream = stream;
    this.now = now;
  }

  push(chunk: Buffer): void {
    if (!this.stream) {
      if (this.bodyBytes + chunk.length <= maxBufferedNonStreamBytes) this.bodyParts.push(chunk);
      this.bodyBytes += chunk.length;
      return;
    }
    this.pending += chunk.toString("utf8");
    let end = this.pending.indexOf("\n\n");
    while (end !== -1) {
      this.onEvent(this.pending.slice(0, end));
      this.pending = this.pending.slice(end + 2);
      end = this.pending.indexOf("\n\n");
    }
  }

  /** Call when the body ended; reads the counts of a non-streamed response. */
  finish(): TokenStats {
    if (!this.stream && this.bodyBytes <= maxBufferedNonStreamBytes) {
      const obj = this.parse(Buffer.concat(this.bodyParts).toString("utf8"));
      if (obj) readCounts(obj, this.stats);
    } else if (this.stream && this.pending.trim() !== "") {
      this.onEvent(this.pending);
      this.pending = "";
    }
    return this.stats;
  }

  private onEvent(event: string): void {
    // SSE may split data over several lines; join them per the spec.
    const data = event
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart())
      .join("\n");
    if (data === "" || data === "[DONE]") return;
    const obj = this.parse(data);
    if (!obj) return;
    const choices = Array.isArray(obj.choices) ? obj.choices : [obj];
    if (choices.some(hasText)) {
      const t = this.now();
      if (this.lastTokenAtMs === undefined) this.stats.firstTokenAtMs = t;
      else this.stats.gapsMs.push(t - this.lastTokenAtMs);
      this.lastTokenAtMs = t;
      this.stats.tokenEvents += 1;
    }
    readCounts(obj, this.stats);
  }

  private parse(text: string): Json | undefined {
    try {
      const v: unknown = JSON.parse(text);
      return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
    } catch {
      return undefined;
    }
  }
}
