/**
 * Every service's /metrics output passes `promtool check metrics` (names,
 * help texts, units, counter suffixes), fetched over HTTP as Prometheus would:
 * a real shard worker process, the local supervisor's cluster state and the
 * gateway. The real `strata controller` process's /metrics is checked in
 * test/src/controller/controller-nats.test.ts, where a control plane runs. Series with labels are populated first, so the
 * check sees them and not only their HELP/TYPE lines.
 */
import { spawnSync } from "node:child_process";
import { WorkerProcess } from "@strata/controller";
import { workerEnv } from "@strata/core";
import { runGateway } from "@strata/gateway";
import {
  createMetricsRegistry,
  freeLoopbackPort,
  type MetricsServer,
  NATS_METRICS,
  NatsServerProcess,
  startMetricsServer,
} from "@strata/runtime";
import { tunnelMetricsObserver, WORKER_METRICS, workerMetrics } from "@strata/shard-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../k8s/poll.js";
import { promtoolBinary } from "../k8s/versions.js";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { STRATA_WORKER_COMMAND } from "../strata-bin.js";
import { startReplica, startStateKeeper, type TestStateKeeper, type TestWorker } from "./fixtures.js";

function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync(promtoolBinary(), ["check", "metrics"], { input: text, encoding: "utf8" });
  if (result.error)
    throw new Error(`promtool did not run (${result.error.message}); run node test/dist/setup.js`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

let server: NatsServerProcess;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await NatsServerProcess.start();
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await server?.stop();
});

describe("promtool check metrics", () => {
  it("passes on a shard worker process's /metrics", async () => {
    const httpPort = await freeLoopbackPort();
    const worker = new WorkerProcess({
      name: "stage-1 worker",
      command: STRATA_WORKER_COMMAND,
      httpPort,
      log: () => {},
      env: workerEnv({
        deployment: "lint",
        replica: 0,
        stage: 1,
        stageLayers: [
          { first: 0, last: 3 },
          { first: 4, last: 7 },
        ],
        engine: "llamacpp",
        modelPath: "/not/read/by/a/stage.gguf",
        servedModelName: "lint",
        maxModelLength: 512,
        stageAddresses: ["127.0.0.1:1", `127.0.0.1:${await freeLoopbackPort()}`],
        tunnelToken: "t",
        natsUrl: server.url,
        bindHost: "127.0.0.1",
        httpPort,
        tunnelPort: await freeLoopbackPort(),
        engineHome: binaries().binDir,
      }),
    });
    cleanups.push(() => worker.stop());
    await worker.ready(60_000);
    const url = `http://127.0.0.1:${httpPort}/metrics`;
    await pollUntil("worker reports its engine up", 10_000, async () =>
      (await scrape(url)).includes(`${WORKER_METRICS.engineUp} 1`),
    );
    const text = await scrape(url);
    expect(text).toContain(WORKER_METRICS.heartbeatsPublished);
    expect(text).toContain("process_cpu_seconds_total");
    expect(promtoolCheck(text)).toEqual({ status: 0, output: "" });
  });

  it("passes on the shard worker's engine and tunnel series", async () => {
    const registry = createMetricsRegistry({ service: "shard-worker" });
    const metrics = workerMetrics(registry, {
      latest: () => ({
        requestsRunning: 2,
        requestsWaiting: 1,
        promptTokensTotal: 120,
        generatedTokensTotal: 48,
        kvCacheUsage: 0.3,
      }),
    });
    const head = tunnelMetricsObserver(metrics, 1, true);
    head.connectionOpened();
    const chunk = head.connectionChunks();
    chunk(true, 4096);
    chunk(false, 512);
    tunnelMetricsObserver(metrics, 0, false).rejected();
    const served: MetricsServer = await startMetricsServer(registry);
    cleanups.push(() => served.close());
    const text = await scrape(served.url);
    expect(text).toContain(`${WORKER_METRICS.tunnelBytes}{stage="1",direction="sent"} 4096`);
    expect(text).toContain(`${WORKER_METRICS.generatedTokens} 48`);
    expect(text).toContain(`${WORKER_METRICS.tunnelMessageLatency}_count{stage="1"} 1`);
    expect(promtoolCheck(text)).toEqual({ status: 0, output: "" });
  });

  it("passes on the local supervisor's cluster-state /metrics", async () => {
    const keeper: TestStateKeeper = await startStateKeeper(server.url);
    cleanups.push(() => keeper.close());
    const workers: TestWorker[] = await startReplica(server.url, "lint-supervisor", 2);
    cleanups.push(async () => Promise.all(workers.map((w) => w.close())));
    keeper.nc.publish("strata.heartbeat.lint-supervisor.0.9", new TextEncoder().encode("garbage"));
    await pollUntil("replica available", 10_000, async () =>
      Boolean(keeper.service.state.replica("lint-supervisor", 0)?.available),
    );
    const served = await startMetricsServer(keeper.registry);
    cleanups.push(() => served.close());
    const text = await scrape(served.url);
    expect(text).toContain('strata_controller_replicas_available{deployment="lint-supervisor"} 1');
    expect(text).toContain(NATS_METRICS.invalidMessages);
    expect(promtoolCheck(text)).toEqual({ status: 0, output: "" });
  });

  it("passes on the gateway's /metrics", async () => {
    const gateway = await runGateway({ upstreams: ["lint=http://127.0.0.1:9"], port: 0, host: "127.0.0.1" });
    cleanups.push(() => gateway.stop());
    await fetch(`${gateway.url}/v1/models`);
    const text = await scrape(`${gateway.url}/metrics`);
    expect(text).toContain("strata_gateway_");
    expect(promtoolCheck(text)).toEqual({ status: 0, output: "" });
  });
});
