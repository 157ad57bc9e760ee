import { describe, expect, it } from "vitest";
import { OpenAIError } from "./openai-error.js";
import { type CompletionKind, validateCompletionBody } from "./validate.js";

function reject(kind: CompletionKind, body: string): OpenAIError {
  try {
    validateCompletionBody(kind, Buffer.from(body));
  } catch (err: unknown) {
    if (err instanceof OpenAIError) return err;
    throw err;
  }
  throw new Error(`accepted: ${body}`);
}

const msgs = '"messages":[{"role":"user","content":"hi"}]';

describe("validateCompletionBody", () => {
  it("accepts a chat request and reports model and stream", () => {
    const v = validateCompletionBody(
      "chat",
      Buffer.from(`{"model":"m",${msgs},"stream":true,"cache_prompt":true}`),
    );
    expect(v).toEqual({ kind: "chat", model: "m", stream: true });
  });

  it.each([
    ["text", '{"model":"m","prompt":"hello"}'],
    ["text", '{"model":"m","prompt":[1,2,3],"max_tokens":0}'],
    ["text", '{"model":"m","prompt":["a","b"],"stop":["x"]}'],
    ["chat", `{"model":"m",${msgs},"temperature":0,"max_tokens":16,"seed":1}`],
    [
      "chat",
      '{"model":"m","n":3,"messages":[{"role":"system","content":"s"},{"role":"developer","content":"d"},' +
        '{"role":"user","content":[{"type":"text","text":"u"}]},{"role":"assistant","content":null},' +
        '{"role":"tool","content":"t","tool_call_id":"c"}]}',
    ],
  ] as const)("accepts %s %s", (kind, body) => {
    expect(validateCompletionBody(kind, Buffer.from(body)).model).toBe("m");
  });

  it.each([
    { kind: "chat", body: "{not json", param: null, code: "invalid_json" },
    { kind: "chat", body: "[1,2]", param: null, code: "invalid_json" },
    { kind: "chat", body: `{${msgs}}`, param: "model", code: null },
    { kind: "chat", body: `{"model":7,${msgs}}`, param: "model", code: null },
    { kind: "chat", body: '{"model":"m"}', param: "messages", code: null },
    { kind: "chat", body: '{"model":"m","messages":[]}', param: "messages", code: "invalid_type" },
    {
      kind: "chat",
      body: '{"model":"m","messages":[{"content":"x"}]}',
      param: "messages[0].role",
      code: "invalid_type",
    },
    {
      kind: "chat",
      body: '{"model":"m","messages":[{"role":"user","content":"x"},{"role":"wizard","content":"x"}]}',
      param: "messages[1].role",
      code: "invalid_value",
    },
    {
      kind: "chat",
      body: '{"model":"m","messages":[{"role":"user","content":7}]}',
      param: "messages[0].content",
      code: "invalid_type",
    },
    { kind: "chat", body: `{"model":"m",${msgs},"n":129}`, param: "n", code: "invalid_type" },
    {
      kind: "chat",
      body: `{"model":"m",${msgs},"temperature":"hot"}`,
      param: "temperature",
      code: "invalid_type",
    },
    {
      kind: "chat",
      body: `{"model":"m",${msgs},"temperature":3}`,
      param: "temperature",
      code: "invalid_type",
    },
    {
      kind: "chat",
      body: `{"model":"m",${msgs},"max_tokens":1.5}`,
      param: "max_tokens",
      code: "invalid_type",
    },
    { kind: "chat", body: `{"model":"m",${msgs},"stream":"yes"}`, param: "stream", code: "invalid_type" },
    { kind: "chat", body: `{"model":"m",${msgs},"stop":[1]}`, param: "stop", code: "invalid_type" },
    { kind: "text", body: '{"model":"m"}', param: "prompt", code: null },
    { kind: "text", body: '{"model":"m","prompt":{"a":1}}', param: "prompt", code: "invalid_type" },
    { kind: "text", body: '{"model":"m","prompt":"x","n":0}', param: "n", code: "invalid_type" },
  ] as const)("rejects $body → param $param", ({ kind, body, param, code }) => {
    const err = reject(kind, body);
    expect(err.status).toBe(400);
    expect(err.type).toBe("invalid_request_error");
    expect(err.param).toBe(param);
    expect(err.code).toBe(code);
    const parsed = JSON.parse(err.body()) as { error: Record<string, unknown> };
    expect(Object.keys(parsed.error).sort()).toEqual(["code", "message", "param", "type"]);
  });
});

describe("chat roles", () => {
  it("names the bad role, where it is and the roles there are", () => {
    const err = reject("chat", '{"model":"m","messages":[{"role":"function","content":"x"}]}');
    expect(err.message).toBe(
      `Invalid value for 'messages[0].role': "function" is not a role; supported roles are system, developer, user, assistant, tool.`,
    );
  });
});
