import { describe, expect, it } from "vitest";
import { engineError } from "./engine-error.js";

describe("engineError", () => {
  it("keeps llama-server's status and message, in OpenAI's format, and tells SDKs not to retry a 5xx", () => {
    const body =
      '{"error":{"code":500,"message":"[json.exception.type_error.316] invalid UTF-8 byte at index 3: 0xB7","type":"server_error"}}';
    const err = engineError(500, body, "local/0");
    expect(err.status).toBe(500);
    expect(JSON.parse(err.body())).toEqual({
      error: {
        message: "[json.exception.type_error.316] invalid UTF-8 byte at index 3: 0xB7",
        type: "server_error",
        param: null,
        code: null,
      },
    });
    expect(err.headers).toEqual({ "x-strata-replica": "local/0", "x-should-retry": "false" });
  });

  it("names the parameter llama.cpp rejected", () => {
    const body =
      '{"error":{"code":400,"message":"Field \'n\': Value must be between 1 <= value <= 4, but got 5","type":"invalid_request_error"}}';
    const err = engineError(400, body, "r");
    expect(err).toMatchObject({ status: 400, type: "invalid_request_error", param: "n", code: null });
    expect(err.message).toBe("Field 'n': Value must be between 1 <= value <= 4, but got 5");
    expect(err.headers["x-should-retry"]).toBeUndefined();
  });

  it("keeps an OpenAI-shaped error (vLLM) as it is", () => {
    const body =
      '{"error":{"message":"max_tokens is too large","type":"BadRequestError","param":"max_tokens","code":"too_large"}}';
    expect(engineError(400, body, "r")).toMatchObject({
      status: 400,
      type: "BadRequestError",
      param: "max_tokens",
      code: "too_large",
      message: "max_tokens is too large",
    });
  });

  it.each([
    ["plain text", "Internal Server Error", "Internal Server Error"],
    ["an empty body", "", "The engine answered HTTP 500."],
    ["JSON without a message", '{"status":"bad"}', "The engine answered HTTP 500."],
  ])("turns %s into a message", (_what, body, message) => {
    expect(engineError(500, body, "r")).toMatchObject({ status: 500, type: "server_error", message });
  });
});
