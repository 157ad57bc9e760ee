import { describe, expect, it } from "vitest";
import { ResponseObserver } from "./sse-observer.js";

function clock(...times: number[]) {
  let i = 0;
  return () => times[i++] ?? Number.NaN;
}

const chunk = (content: string) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;

describe("ResponseObserver", () => {
  it("times token events split across chunk boundaries and reads usage", () => {
    const o = new ResponseObserver(true, clock(10, 15, 27));
    const stream = `${chunk("a")}${chunk("")}${chunk("b")}${chunk("c")}data: ${JSON.stringify({
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 3 },
    })}\n\ndata: [DONE]\n\n`;
    for (let i = 0; i < stream.length; i += 7) o.push(Buffer.from(stream.slice(i, i + 7)));
    const s = o.finish();
    expect(s.tokenEvents).toBe(3);
    expect(s.firstTokenAtMs).toBe(10);
    expect(s.gapsMs).toEqual([5, 12]);
    expect([s.inputTokens, s.outputTokens]).toEqual([5, 3]);
  });

  it("reads llama.cpp's native stream and its timings", () => {
    const o = new ResponseObserver(true, clock(1, 2));
    o.push(
      Buffer.from(
        'data: {"content":"x"}\n\ndata: {"content":"y","stop":true,"timings":{"prompt_n":4,"predicted_n":2}}\n\n',
      ),
    );
    const s = o.finish();
    expect(s.tokenEvents).toBe(2);
    expect([s.inputTokens, s.outputTokens]).toEqual([4, 2]);
  });

  it("reads usage from a whole (non-streamed) body", () => {
    const o = new ResponseObserver(false, clock());
    const body = JSON.stringify({
      choices: [{ text: "hi" }],
      usage: { prompt_tokens: 2, completion_tokens: 1 },
    });
    o.push(Buffer.from(body.slice(0, 10)));
    o.push(Buffer.from(body.slice(10)));
    expect(o.finish()).toMatchObject({ inputTokens: 2, outputTokens: 1, tokenEvents: 0 });
  });
});
