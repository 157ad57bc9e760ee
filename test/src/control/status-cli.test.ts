/**
 * `strata status` as a user runs it, against a real nats-server with workers
 * reporting: answered by the supervisor's cluster state (the controller answers the same way: controller-nats.test.ts), and by collecting
 * heartbeats when nobody keeps state. Bad input: one line, exit 2.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { NatsServerProcess } from "@strata/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../k8s/poll.js";
import { STRATA_BIN as cli } from "../strata-bin.js";
import { startReplica, startStateKeeper, type TestStateKeeper, type TestWorker } from "./fixtures.js";

const run = promisify(execFile);
let stateDir: string;

async function strata(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // No local `strata up` state leaks in from the machine running the test.
  const env = { ...process.env, STRATA_STATE_DIR: stateDir, NATS_URL: "" };
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

let server: NatsServerProcess;
const replicas: TestWorker[][] = [];

/** Each test reports its own replica under its own deployment name: no test sees another's workers. */
async function reportingReplica(deployment: string): Promise<TestWorker[]> {
  const workers = await startReplica(server.url, deployment, 3);
  workers[0]?.control.setAddresses({ endpoint: "http://127.0.0.1:18080" });
  replicas.push(workers);
  return workers;
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "strata-status-"));
  server = await NatsServerProcess.start();
});

afterAll(async () => {
  for (const w of replicas.flat()) await w.close().catch(() => {});
  await server?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

describe("strata status", () => {
  it("collects heartbeats when no state keeper answers", async () => {
    await reportingReplica("collected");
    const { code, stdout } = await strata(
      "status",
      "--nats-url",
      server.url,
      "--deployment",
      "collected",
      "--json",
      "--collect-ms",
      "2500",
    );
    expect(code).toBe(0);
    const snapshot = JSON.parse(stdout);
    expect(snapshot.source).toBe("heartbeats");
    const replica = snapshot.deployments[0].replicas[0];
    expect(replica).toMatchObject({ replica: 0, available: true, stageCount: 3 });
    expect(replica.stages.map((s: { layers: unknown }) => s.layers)).toEqual([
      { first: 0, last: 3 },
      { first: 4, last: 7 },
      { first: 8, last: 11 },
    ]);
    expect(replica.stages[0].heartbeatAgeMs).toBeLessThan(5_000);
  });

  it("asks the supervisor's cluster state, and shows a lost stage", async () => {
    const workers = await reportingReplica("tiny");
    const keeper: TestStateKeeper = await startStateKeeper(server.url);
    try {
      await pollUntil("state keeper sees the replica", 10_000, async () =>
        Boolean(keeper.service.state.replica("tiny", 0)?.available),
      );
      await workers[2]?.nc.close();
      await pollUntil("stage 2 lost", 10_000, async () =>
        Boolean(keeper.service.state.replica("tiny", 0)?.stages[2]?.lost),
      );
      const json = await strata("status", "--nats-url", server.url, "--deployment", "tiny", "--json");
      expect(json.code).toBe(0);
      const snapshot = JSON.parse(json.stdout);
      expect(snapshot.source).toBe("supervisor");
      expect(snapshot.deployments[0].replicas[0]).toMatchObject({ available: false });
      expect(snapshot.deployments[0].replicas[0].stages[2]).toMatchObject({ stage: 2, lost: true });

      const table = await strata("status", "--nats-url", server.url, "--deployment", "tiny");
      expect(table.code).toBe(0);
      expect(table.stdout).toContain("tiny replica 0: unavailable (2/3 stages ready)");
      expect(table.stdout).toMatch(/tiny\s+0\s+2\s+8-11\s+ready \(lost\)/);
      expect(table.stdout).toMatch(/tiny\s+0\s+0\s+0-3\s+ready\s+0 run, 0 wait, kv 0%, 0\.0 tok\/s/);
    } finally {
      await keeper.close();
    }
  });

  it.each([
    [["status", "--nats-url", "http://localhost:4222"], /^strata: --nats-url: must be a nats:\/\/ URL/],
    [["status", "--nats-url", "nats://127.0.0.1:1"], /^strata: --nats-url: cannot connect/],
    [["status"], /^strata: --nats-url: no NATS server given/],
    [["status", "--nats-url", "nats://127.0.0.1:1", "--deployment", "Bad_Name"], /^strata: --deployment:/],
    [["status", "--collect-ms", "-5"], /--collect-ms/],
  ])("rejects %j with one line and exit 2", async (args, message) => {
    const { code, stderr } = await strata(...args);
    expect(code).toBe(2);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
