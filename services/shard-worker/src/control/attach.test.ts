import { InputError, WORKER_ENV } from "@strata/core";
import { describe, expect, it } from "vitest";
import { CONTROL_CONFIG_ENV, controlConfigEnv, controlConfigFromEnv, WORKER_METRICS_PORT } from "./attach.js";

const config = {
  natsUrl: "nats://127.0.0.1:4222",
  deployment: "tiny",
  replica: 0,
  stage: 2,
  stageCount: 3,
  layers: { first: 8, last: 11 },
};

describe("control config", () => {
  it("round-trips through STRATA_CONTROL_CONFIG with defaults filled in", () => {
    expect(controlConfigFromEnv(controlConfigEnv(config))).toEqual({
      ...config,
      engine: "llamacpp",
      advertiseHost: "127.0.0.1",
      metricsHost: "127.0.0.1",
      metricsPort: 0,
    });
  });

  it("is absent without either form", () => {
    expect(controlConfigFromEnv({})).toBeUndefined();
  });

  it("reads a pod's WORKER_ENV variables (inclusive last layer)", () => {
    const env = {
      [WORKER_ENV.natsUrl]: "nats://nats:4222",
      [WORKER_ENV.deployment]: "llama-405b",
      [WORKER_ENV.replica]: "1",
      [WORKER_ENV.stage]: "0",
      [WORKER_ENV.stages]: "4",
      [WORKER_ENV.firstLayer]: "0",
      [WORKER_ENV.lastLayer]: "31",
      POD_IP: "10.0.0.7",
    };
    expect(controlConfigFromEnv(env)).toMatchObject({
      deployment: "llama-405b",
      replica: 1,
      stageCount: 4,
      layers: { first: 0, last: 31 },
      advertiseHost: "10.0.0.7",
      metricsHost: "0.0.0.0",
      metricsPort: WORKER_METRICS_PORT,
    });
  });

  it.each([
    ["{not json", CONTROL_CONFIG_ENV],
    [JSON.stringify({ ...config, deployment: "Bad_Name" }), `${CONTROL_CONFIG_ENV}: deployment`],
    [JSON.stringify({ ...config, stageCount: 0 }), `${CONTROL_CONFIG_ENV}: stageCount`],
  ])("rejects %s naming %s", (raw, field) => {
    try {
      controlConfigFromEnv({ [CONTROL_CONFIG_ENV]: raw });
      expect.unreachable();
    } catch (err: unknown) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).field).toBe(field);
    }
  });
});
