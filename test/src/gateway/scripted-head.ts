/**
 * A scripted stand-in for a replica head, for the failure cases a real
 * llama-server cannot be made to produce on demand (a 503 before the first
 * byte, a crash mid-stream, a stall). It speaks the same wire format as
 * llama-server's OpenAI endpoints. Acceptance against real llama.cpp processes
 * lives in test/src/gateway.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type HeadBehaviour = "ok" | "fail-503" | "engine-error-500" | "die-mid-stream" | "stall";

/**
 * llama-server's answer when its JSON encoder met bytes that are not UTF-8 in
 * a non-streamed output, as older llama.cpp builds gave it (newer ones replace
 * the bytes): the engine's own error, the same on every replica.
 */
export const ENGINE_UTF8_ERROR =
  '{"error":{"code":500,"message":"[json.exception.type_error.316] invalid UTF-8 byte at index 3: 0xB7","type":"server_error"}}';

export interface HeadRequest {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Record<string, unknown>;
  /** Resolves when the gateway closed or finished the request. */
  readonly closed: Promise<"finished" | "aborted">;
}

export class ScriptedHead {
  behaviour: HeadBehaviour = "ok";
  readonly requests: HeadRequest[] = [];
  /** Tokens per streamed reply. */
  tokens = 4;
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => {
        raw += c.toString();
      });
      req.on("end", () => this.answer(req, res, raw));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return this.url();
  }

  url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private answer(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const body = JSON.parse(raw) as Record<string, unknown>;
    const closed = new Promise<"finished" | "aborted">((resolve) => {
      res.on("close", () => resolve(res.writableFinished ? "finished" : "aborted"));
    });
    this.requests.push({ path: req.url ?? "", headers: req.headers, body, closed });
    if (this.behaviour === "fail-503") {
      res.writeHead(503, { "content-type": "application/json" });
      res.end('{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}');
      return;
    }
    if (this.behaviour === "engine-error-500") {
      res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
      res.end(ENGINE_UTF8_ERROR);
      return;
    }
    if (this.behaviour === "stall") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      return;
    }
    const chat = req.url === "/v1/chat/completions";
    const chunk = (text: string) =>
      chat
        ? {
            object: "chat.completion.chunk",
            choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
          }
        : { object: "text_completion", choices: [{ index: 0, text, finish_reason: null }] };
    if (body.stream !== true) {
      const text = "t".repeat(this.tokens);
      const choice = chat ? { message: { role: "assistant", content: text } } : { text };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          choices: [{ index: 0, ...choice, finish_reason: "length" }],
          usage: { prompt_tokens: 3, completion_tokens: this.tokens, total_tokens: 3 + this.tokens },
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    let sent = 0;
    const timer = setInterval(() => {
      if (this.behaviour === "die-mid-stream" && sent === 1) {
        clearInterval(timer);
        res.destroy();
        return;
      }
      if (sent < this.tokens) {
        res.write(`data: ${JSON.stringify(chunk("t"))}\n\n`);
        sent += 1;
        return;
      }
      clearInterval(timer);
      const last = { choices: [], usage: { prompt_tokens: 3, completion_tokens: this.tokens } };
      res.end(`data: ${JSON.stringify(last)}\n\ndata: [DONE]\n\n`);
    }, 5);
    res.on("close", () => clearInterval(timer));
  }
}
