/**
 * The controller with real workers: the harness's control plane (KWOK GPU
 * nodes), a real nats-server, the real `strata controller` process (leader
 * election on, as the chart runs it) and real `strata worker` processes with
 * llama.cpp behind every pod (shadow-workers.ts). Shared by the controller's
 * NATS tests and the chaos suite; each scenario has its own namespace, node
 * pool, controller and workers.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  CONDITION_TYPES,
  type GroupStatus,
  type ModelDeployment,
  type ModelDeploymentSpecInput,
} from "@strata/core";
import { NatsServerProcess } from "@strata/runtime";
import { writeTinyLlamaGguf } from "@strata/shard-worker";
import {
  type ControlPlane,
  type ControlPlaneOptions,
  createGpuNodePool,
  createTestNamespace,
  NODE_LABELS,
  startControlPlane,
} from "../k8s/index.js";
import { binaries } from "../shard-worker/rpc-fixtures.js";
import { Deployments, installChartCrdAndRole } from "./fixture.js";
import { type ControllerProcess, startControllerProcess } from "./processes.js";
import { ShadowWorkers } from "./shadow-workers.js";

/** The test model: a generated llama with this many layers (small enough for 2 cores). */
export const LIVE_MODEL_LAYERS = 4;
const H100 = "NVIDIA-H100-80GB-HBM3";

export interface LiveEnv {
  readonly cp: ControlPlane;
  readonly admin: KubeConfig;
  readonly nats: NatsServerProcess;
  readonly modelPath: string;
  readonly engineHome: string;
  stop(): Promise<void>;
}

export async function startLiveEnv(options: ControlPlaneOptions = {}): Promise<LiveEnv> {
  const engineHome = binaries().binDir;
  const dir = await mkdtemp(join(tmpdir(), "strata-live-"));
  const modelPath = join(dir, "tiny.gguf");
  await writeTinyLlamaGguf(modelPath, { layers: LIVE_MODEL_LAYERS });
  const nats = await NatsServerProcess.start();
  let cp: ControlPlane;
  try {
    cp = await startControlPlane(options);
  } catch (err: unknown) {
    await nats.stop();
    throw err;
  }
  const admin = cp.kubeConfig();
  await installChartCrdAndRole(admin);
  return {
    cp,
    admin,
    nats,
    modelPath,
    engineHome,
    async stop() {
      await cp.stop();
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface LiveScenario {
  readonly ns: string;
  readonly pool: string;
  readonly mds: Deployments;
  readonly controllers: ControllerProcess[];
  readonly shadows: ShadowWorkers;
  /** Starts one more controller process in the scenario's namespace (it stands by unless it leads). */
  addController(name: string): Promise<ControllerProcess>;
  stop(): Promise<void>;
}

export interface LiveScenarioOptions {
  /** One 8-GPU node per entry, labelled with that rack. */
  readonly racks: readonly string[];
  /** Extra `strata controller` flags. */
  readonly controllerArgs?: readonly string[];
  /** Worker output (default: dropped). */
  readonly log?: (line: string) => void;
  /** Real workers behind the pods (default true); false: KWOK pods only. */
  readonly workers?: boolean;
}

export async function liveScenario(
  env: LiveEnv,
  prefix: string,
  options: LiveScenarioOptions,
): Promise<LiveScenario> {
  const { admin } = env;
  const ns = await createTestNamespace(admin, prefix);
  await createGpuNodePool(admin, {
    name: ns,
    count: options.racks.length,
    gpusPerNode: 8,
    gpuProduct: H100,
    labels: { rack: (i) => `${ns}-${options.racks[i]}` },
  });
  const controllers: ControllerProcess[] = [];
  const addController = async (name: string) => {
    const c = await startControllerProcess(admin, ns, name, {
      natsUrl: env.nats.url,
      extraArgs: options.controllerArgs ?? [],
    });
    controllers.push(c);
    return c;
  };
  await addController(`${prefix}-ctl-a`);
  const shadows = new ShadowWorkers({
    kc: admin,
    namespace: ns,
    modelPath: env.modelPath,
    engineHome: env.engineHome,
    ...(options.log ? { log: options.log } : {}),
  });
  if (options.workers ?? true) await shadows.start();
  return {
    ns,
    pool: ns,
    mds: new Deployments(admin, ns),
    controllers,
    shadows,
    addController,
    async stop() {
      for (const c of controllers) c.kill();
      await shadows.stop();
    },
  };
}

/** A llama.cpp deployment of the test model on the scenario's pool: tp 1, `pp` stages. */
export function liveSpec(pool: string, over: Partial<ModelDeploymentSpecInput> & { pp?: number } = {}) {
  const { pp = 2, ...rest } = over;
  const spec: ModelDeploymentSpecInput = {
    model: {
      architecture: { layers: LIVE_MODEL_LAYERS, attentionHeads: 8, kvHeads: 4 },
      source: { uri: "file:///the/shadow/workers/load/the/test/model.gguf" },
      format: "gguf",
      servedName: "tiny",
    },
    engine: "llamacpp",
    parallelism: { mode: "explicit", tp: 1, pp },
    gpu: { type: "h100-sxm-80g", perNode: 8, nodeSelector: { [NODE_LABELS.pool]: pool } },
    workload: { maxModelLength: 512, concurrency: 4 },
    images: { worker: "registry.invalid/strata/shard-worker:1", pullPolicy: "IfNotPresent" },
    ...rest,
  };
  return spec;
}

/** Every group Available, and every stage of every group reports ready over NATS. */
export function serving(md: ModelDeployment, replicas: number): boolean {
  const available = md.status?.conditions?.find((c) => c.type === CONDITION_TYPES.available);
  const groups = (md.status?.groups ?? []).filter((g) => g.replica < replicas);
  return (
    available?.status === "True" &&
    md.status?.readyReplicas === replicas &&
    groups.length === replicas &&
    groups.every((g) => g.phase === "Available" && stagesReady(g))
  );
}

function stagesReady(g: GroupStatus): boolean {
  return (g.stages ?? []).length > 0 && (g.stages ?? []).every((s) => s.state === "ready");
}

/** One value of a Prometheus text exposition, 0 when the series is absent. */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return 0;
}
