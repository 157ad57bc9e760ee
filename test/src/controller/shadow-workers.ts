/**
 * Real workers behind KWOK pods. KWOK plays the kubelet for fake GPU nodes:
 * it marks pods Running but runs nothing. For the controller's NATS tests and
 * the chaos suite, every pod the controller creates gets a real `strata
 * worker` process on loopback, started with the pod's own environment (the
 * worker contract the controller wrote) and stopped when the pod goes, as a
 * kubelet would: the tunnel token comes from the pod's Secret, Secret volumes
 * are projected into a folder (the tunnel's TLS files), STRATA_POD_UID is the
 * pod's uid, and what a node would differ in (addresses, ports, the
 * model file, the engine's programs) is set for this machine. A group's
 * workers start together once all its pods exist, since the stage addresses
 * name every sibling's tunnel port.
 *
 * This is a stand-in for real kubelet nodes (containerd), which the harness
 * gains separately; the workers, engines, NATS traffic and tunnels are real.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, makeInformer, type V1EnvVar, type V1Pod } from "@kubernetes/client-node";
import { WorkerProcess } from "@strata/controller";
import { LABELS, WORKER_ENV } from "@strata/core";
import { freeLoopbackPort } from "@strata/runtime";
import { STRATA_WORKER_COMMAND } from "../strata-bin.js";

export interface ShadowWorker {
  readonly uid: string;
  readonly pod: string;
  readonly deployment: string;
  readonly replica: number;
  readonly stage: number;
  readonly process: WorkerProcess;
  readonly httpPort: number;
  readonly tunnelPort: number;
  /** When the worker process was started (ms since the epoch). */
  readonly startedAtMs: number;
}

export interface ShadowOptions {
  readonly kc: KubeConfig;
  readonly namespace: string;
  /** The GGUF every worker loads (the pods name an unreachable URI). */
  readonly modelPath: string;
  /** llama.cpp's bin folder. */
  readonly engineHome: string;
  /** Worker output lines (default: dropped). */
  readonly log?: (line: string) => void;
}

type PodInformer = ReturnType<typeof makeInformer<V1Pod>>;

export class ShadowWorkers {
  readonly #options: ShadowOptions;
  readonly #core: CoreV1Api;
  readonly #workers = new Map<string, ShadowWorker>();
  readonly #starting = new Set<string>();
  readonly #stopping = new Set<Promise<void>>();
  #informer: PodInformer | undefined;
  #stopped = false;
  /** Folders holding projected Secret volumes, removed at stop. */
  readonly #volumeDirs: string[] = [];
  #syncing: Promise<void> = Promise.resolve();

  constructor(options: ShadowOptions) {
    this.#options = options;
    this.#core = options.kc.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    const { namespace } = this.#options;
    const informer = makeInformer<V1Pod>(
      this.#options.kc,
      `/api/v1/namespaces/${namespace}/pods`,
      () => this.#core.listNamespacedPod({ namespace, labelSelector: LABELS.deployment }),
      LABELS.deployment,
    );
    for (const verb of ["add", "update", "delete"] as const) informer.on(verb, () => this.#sync());
    informer.on("error", () => {
      // The API server restarted (chaos): watch again once it answers.
      if (!this.#stopped) setTimeout(() => informer.start().catch(() => {}), 1_000).unref();
    });
    this.#informer = informer;
    await informer.start();
    this.#sync();
  }

  /** The live workers, by pod uid. */
  workers(): ShadowWorker[] {
    return [...this.#workers.values()];
  }

  /** The worker of a deployment's replica and stage, if one runs. */
  find(deployment: string, replica: number, stage: number): ShadowWorker | undefined {
    return this.workers().find(
      (w) => w.deployment === deployment && w.replica === replica && w.stage === stage,
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#informer?.stop();
    await this.#syncing;
    await Promise.all([...this.#workers.values()].map((w) => w.process.stop()));
    await Promise.all(this.#stopping);
    this.#workers.clear();
    for (const dir of this.#volumeDirs) rmSync(dir, { recursive: true, force: true });
  }

  #sync(): void {
    this.#syncing = this.#syncing.then(() => this.#reconcile()).catch(() => {});
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped || !this.#informer) return;
    const pods = this.#informer.list(this.#options.namespace);
    const live = new Map<string, V1Pod>();
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (uid && !pod.metadata?.deletionTimestamp && pod.status?.phase === "Running") live.set(uid, pod);
    }
    // A pod gone or terminating: its worker gets SIGTERM, as from a kubelet.
    for (const [uid, worker] of this.#workers) {
      if (live.has(uid)) continue;
      this.#workers.delete(uid);
      const stopping = worker.process.stop();
      this.#stopping.add(stopping);
      void stopping.finally(() => this.#stopping.delete(stopping));
    }
    // Groups whose every stage pod runs and has no worker yet.
    const groups = new Map<string, V1Pod[]>();
    for (const pod of live.values()) {
      const key = `${pod.metadata?.labels?.[LABELS.deployment]}/${pod.metadata?.labels?.[LABELS.replica]}`;
      groups.set(key, [...(groups.get(key) ?? []), pod]);
    }
    for (const [key, group] of groups) {
      const stages = stageCount(group[0]);
      const pending = group.filter((p) => !this.#workers.has(p.metadata?.uid ?? ""));
      if (group.length !== stages || pending.length !== stages || this.#starting.has(key)) continue;
      this.#starting.add(key);
      try {
        await this.#startGroup(group);
      } finally {
        this.#starting.delete(key);
      }
    }
  }

  async #startGroup(group: V1Pod[]): Promise<void> {
    const byStage = [...group].sort((a, b) => stageOf(a) - stageOf(b));
    const ports = await Promise.all(
      byStage.map(async () => ({ http: await freeLoopbackPort(), tunnel: await freeLoopbackPort() })),
    );
    const addresses = ports.map((p) => `127.0.0.1:${p.tunnel}`).join(",");
    for (const [i, pod] of byStage.entries()) {
      const port = ports[i] as { http: number; tunnel: number };
      const env = await this.#environment(pod);
      await this.#projectSecretMounts(pod, env);
      Object.assign(env, {
        [WORKER_ENV.bindHost]: "127.0.0.1",
        [WORKER_ENV.advertiseHost]: "127.0.0.1",
        [WORKER_ENV.httpPort]: String(port.http),
        [WORKER_ENV.tunnelPort]: String(port.tunnel),
        [WORKER_ENV.modelPath]: this.#options.modelPath,
        [WORKER_ENV.engineHome]: this.#options.engineHome,
        [WORKER_ENV.engineThreads]: "1",
        [WORKER_ENV.podUid]: pod.metadata?.uid ?? "",
        ...(byStage.length > 1 ? { [WORKER_ENV.stageAddresses]: addresses } : {}),
      });
      const name = pod.metadata?.name ?? "";
      const log = this.#options.log;
      const process = new WorkerProcess({
        name,
        command: STRATA_WORKER_COMMAND,
        httpPort: port.http,
        env,
        log: log ? (line) => log(`[${name}] ${line}`) : () => {},
      });
      this.#workers.set(pod.metadata?.uid ?? "", {
        uid: pod.metadata?.uid ?? "",
        pod: name,
        deployment: pod.metadata?.labels?.[LABELS.deployment] ?? "",
        replica: Number(pod.metadata?.labels?.[LABELS.replica]),
        stage: stageOf(pod),
        process,
        httpPort: port.http,
        tunnelPort: port.tunnel,
        startedAtMs: Date.now(),
      });
    }
  }

  /**
   * A Secret volume mounted where a worker variable points (the tunnel's TLS
   * folder) is written to a private folder, and the variable points there.
   */
  async #projectSecretMounts(pod: V1Pod, env: Record<string, string>): Promise<void> {
    const mounts = pod.spec?.containers[0]?.volumeMounts ?? [];
    for (const [variable, path] of Object.entries(env)) {
      const mount = mounts.find((m) => m.mountPath === path);
      const volume = pod.spec?.volumes?.find((v) => v.name === mount?.name);
      const secretName = volume?.secret?.secretName;
      if (!secretName) continue;
      const secret = await this.#core.readNamespacedSecret({
        namespace: this.#options.namespace,
        name: secretName,
      });
      const dir = mkdtempSync(join(tmpdir(), "strata-shadow-secret-"));
      this.#volumeDirs.push(dir);
      for (const item of volume.secret?.items ?? []) {
        const data = secret.data?.[item.key];
        if (data !== undefined)
          writeFileSync(join(dir, item.path), Buffer.from(data, "base64"), { mode: 0o600 });
      }
      env[variable] = dir;
    }
  }

  /** The container's environment: plain values, the Secret's token, the downward API's uid. */
  async #environment(pod: V1Pod): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    const container = pod.spec?.containers[0];
    for (const e of container?.env ?? ([] as V1EnvVar[])) {
      if (e.value !== undefined) env[e.name] = e.value;
      const secret = e.valueFrom?.secretKeyRef;
      if (secret) {
        const s = await this.#core.readNamespacedSecret({
          namespace: this.#options.namespace,
          name: secret.name ?? "",
        });
        const data = s.data?.[secret.key];
        if (data !== undefined) env[e.name] = Buffer.from(data, "base64").toString("utf8");
      }
    }
    return env;
  }
}

function stageOf(pod: V1Pod): number {
  return Number(pod.metadata?.labels?.[LABELS.stage]);
}

function stageCount(pod: V1Pod | undefined): number {
  const layers = pod?.spec?.containers[0]?.env?.find((e) => e.name === WORKER_ENV.stageLayers)?.value;
  return layers ? layers.split(",").length : Number.POSITIVE_INFINITY;
}
