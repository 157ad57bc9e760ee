import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { decodeMessage, encodeMessage } from "./codec.js";
import { controlRequestSchema, type Heartbeat, heartbeatSchema } from "./messages.js";
import { stageRefOf, subjectKind, subjects } from "./subjects.js";

const heartbeat: Heartbeat = {
  v: 1,
  deployment: "llama-405b",
  replica: 0,
  stage: 2,
  stageCount: 3,
  engine: "llamacpp",
  state: "ready",
  layers: { first: 84, last: 125 },
  requestsRunning: 1,
  requestsWaiting: 0,
  kvCacheUsage: 0.25,
  tokensPerSecond: 12.5,
  engineRestarts: 0,
  intervalMs: 1000,
  seq: 7,
  startedAtMs: 1_700_000_000_000,
  sentAtMs: 1_700_000_007_000,
};

describe("subjects", () => {
  it("builds and parses stage subjects", () => {
    const ref = { deployment: "llama-405b", replica: 1, stage: 2 };
    expect(subjects.heartbeat(ref)).toBe("strata.heartbeat.llama-405b.1.2");
    expect(stageRefOf(subjects.lifecycle(ref))).toEqual(ref);
    expect(subjectKind(subjects.control(ref))).toBe("control");
    expect(subjects.heartbeats("llama-405b")).toBe("strata.heartbeat.llama-405b.>");
  });

  it.each([
    [{ deployment: "Bad.Name", replica: 0, stage: 0 }, "deployment"],
    [{ deployment: "ok", replica: -1, stage: 0 }, "replica"],
    [{ deployment: "ok", replica: 0, stage: 1.5 }, "stage"],
  ])("rejects %o naming %s", (ref, field) => {
    expect(() => subjects.heartbeat(ref)).toThrow(InputError);
    try {
      subjects.heartbeat(ref);
    } catch (err: unknown) {
      expect((err as InputError).field).toBe(field);
    }
  });
});

describe("codec", () => {
  it("round-trips a heartbeat", () => {
    const decoded = decodeMessage(heartbeatSchema, encodeMessage(heartbeatSchema, heartbeat));
    expect(decoded).toEqual({ ok: true, value: heartbeat });
  });

  it.each([
    ["not json", new TextEncoder().encode("{nope"), "json"],
    ["invalid utf-8", Uint8Array.of(0xff, 0xfe), "json"],
    ["wrong schema", new TextEncoder().encode(JSON.stringify({ ...heartbeat, kvCacheUsage: 2 })), "schema"],
    ["missing field", new TextEncoder().encode(JSON.stringify({ v: 1 })), "schema"],
  ])("rejects %s", (_name, bytes, reason) => {
    const decoded = decodeMessage(heartbeatSchema, bytes);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toBe(reason);
  });

  it("refuses to encode an invalid control request", () => {
    expect(() => encodeMessage(controlRequestSchema, { v: 1, command: "explode" } as never)).toThrow();
  });
});
