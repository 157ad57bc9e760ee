import { posix } from "node:path";
import type {
  V1EnvVar,
  V1OwnerReference,
  V1Pod,
  V1Service,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import {
  ANNOTATIONS,
  DEFAULT_GPU_MEMORY_UTILIZATION,
  DEFAULT_VLLM_STEP_TIMEOUT_SECONDS,
  findGpu,
  formatLayerRange,
  LABELS,
  MANAGED_BY_VALUE,
  MAX_SEQUENCES_LIMIT,
  MODEL_DEPLOYMENT_API_VERSION,
  MODEL_DEPLOYMENT_KIND,
  type ModelDeployment,
  type ModelDeploymentSpec,
  type PlanStatus,
  POD_GROUP_LABEL,
  quantityBytes,
  stageWidth,
  TUNNEL_TLS,
  TUNNEL_TOKEN_SECRET_KEY,
  type VllmWorkerSettings,
  WORKER_ENV,
  WORKER_PORTS,
  WORKER_ROLES,
  workerEnv,
} from "@strata/core";
import { headlessServiceName, podGroupName, podName, stageHost, tunnelSecretName } from "./names.js";

/** What a group's pods are built from besides the deployment itself. */
export interface GroupContext {
  readonly replica: number;
  readonly revision: string;
  /** Value of the topology key the controller packed this group into. */
  readonly domain: string;
  /** The domain's nodes when the group was admitted; absent when unknown (pods added to a group). */
  readonly domainNodes?: readonly string[];
  readonly natsUrl: string;
  /** Set when the scheduler-plugins PodGroup CRD exists: pods name their PodGroup and scheduler. */
  readonly podGroupScheduler?: string;
}

export function ownerReference(md: ModelDeployment): V1OwnerReference {
  return {
    apiVersion: MODEL_DEPLOYMENT_API_VERSION,
    kind: MODEL_DEPLOYMENT_KIND,
    name: md.metadata.name,
    uid: md.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function groupLabels(md: ModelDeployment, replica: number): Record<string, string> {
  return {
    [LABELS.deployment]: md.metadata.name,
    [LABELS.replica]: String(replica),
    [LABELS.managedBy]: MANAGED_BY_VALUE,
  };
}

/**
 * Whether a group's stages talk through Strata's gRPC tunnel, which needs the
 * deployment's token Secret: llama.cpp over more than one stage. vLLM stages
 * meet through vLLM's own rendezvous.
 */
export function usesTunnel(spec: ModelDeploymentSpec, plan: PlanStatus): boolean {
  return spec.engine === "llamacpp" && plan.stages.length > 1;
}

/**
 * Whether a group's workers prove themselves to each other with the
 * deployment's token (its Secret): any group of more than one stage, as
 * llama.cpp's tunnel and vLLM's group link (head to every stage) both check it.
 */
export function needsGroupToken(plan: PlanStatus): boolean {
  return plan.stages.length > 1;
}

/** The pods of one group: one per pipeline stage, stage 0 the head. */
export function groupPods(md: ModelDeployment, plan: PlanStatus, ctx: GroupContext): V1Pod[] {
  return plan.stages.map((stage) => stagePod(md, plan, ctx, stage.stage));
}

function stagePod(md: ModelDeployment, plan: PlanStatus, ctx: GroupContext, stage: number): V1Pod {
  const { name, namespace } = md.metadata;
  const spec = md.spec;
  const layers = plan.stages[stage];
  if (!layers) throw new RangeError(`stage ${stage} is not in the plan`);
  const role = stage === 0 ? WORKER_ROLES.head : WORKER_ROLES.stage;
  const labels = {
    ...groupLabels(md, ctx.replica),
    [LABELS.stage]: String(stage),
    [LABELS.revision]: ctx.revision,
    [LABELS.role]: role,
    ...(ctx.podGroupScheduler ? { [POD_GROUP_LABEL]: podGroupName(name, ctx.replica) } : {}),
  };
  // Under expert parallelism a pod holds the whole ep group: ep/tp attention ranks of tp GPUs.
  const gpus = String(stageWidth(plan.tp, plan.ep));
  const multiStage = plan.stages.length > 1;
  const tunnel = usesTunnel(spec, plan);
  const cache = rpcCache(md, ctx.replica, stage, multiStage);
  // The worker contract (core's workerEnv); the token comes from the group's
  // Secret and the advertised address from the pod's own IP.
  const contract = workerEnv({
    deployment: name,
    replica: ctx.replica,
    stage,
    stageLayers: plan.stages.map((s) => s.layers),
    tensorParallel: plan.tp,
    expertParallel: plan.ep,
    engine: spec.engine,
    modelPath: modelPath(spec),
    servedModelName: spec.model.servedName,
    maxModelLength: spec.workload.maxModelLength,
    // llama-server decodes this many sequences at once (its slots); vLLM's scheduler sizes its own batch.
    ...(spec.engine === "llamacpp"
      ? { maxSequences: Math.min(spec.workload.concurrency, MAX_SEQUENCES_LIMIT) }
      : { dtype: spec.dtype }),
    stageAddresses: multiStage
      ? plan.stages.map((s) => `${stageHost(name, namespace, ctx.replica, s.stage)}:${WORKER_PORTS.tunnel}`)
      : [],
    natsUrl: ctx.natsUrl,
    ...(tunnel ? { tunnelTlsDir: TUNNEL_TLS.mountPath } : {}),
    httpPort: WORKER_PORTS.http,
    tunnelPort: WORKER_PORTS.tunnel,
    ...(spec.engine === "vllm" ? { vllm: vllmSettings(spec) } : {}),
    ...(cache ? cache.contract : {}),
  });
  const env: V1EnvVar[] = [
    ...Object.entries(contract).map(([envName, value]) => ({ name: envName, value })),
    { name: WORKER_ENV.advertiseHost, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
    { name: WORKER_ENV.podUid, valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
    ...(needsGroupToken(plan)
      ? [
          {
            name: WORKER_ENV.tunnelToken,
            valueFrom: { secretKeyRef: { name: tunnelSecretName(name), key: TUNNEL_TOKEN_SECRET_KEY } },
          },
        ]
      : []),
  ];
  const { volumes, mounts } = modelVolumes(spec, Number(gpus));
  if (cache) {
    volumes.push(cache.volume);
    mounts.push(cache.mount);
  }
  if (tunnel) {
    // The tunnel's TLS files from the deployment's Secret (not its token: that comes as a variable).
    volumes.push({
      name: "tunnel-tls",
      secret: {
        secretName: tunnelSecretName(name),
        items: [TUNNEL_TLS.caFile, TUNNEL_TLS.certFile, TUNNEL_TLS.keyFile].map((key) => ({
          key,
          path: key,
        })),
      },
    });
    mounts.push({ name: "tunnel-tls", mountPath: TUNNEL_TLS.mountPath, readOnly: true });
  }
  const requests: Record<string, string> = { [spec.gpu.resourceName]: gpus };
  const limits: Record<string, string> = { [spec.gpu.resourceName]: gpus };
  if (spec.resources?.cpu) requests.cpu = spec.resources.cpu;
  if (spec.resources?.memory) {
    requests.memory = spec.resources.memory;
    limits.memory = spec.resources.memory;
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName(name, ctx.replica, stage),
      namespace,
      labels,
      annotations: {
        [ANNOTATIONS.layers]: formatLayerRange(layers.layers),
        [ANNOTATIONS.revision]: ctx.revision,
      },
      ownerReferences: [ownerReference(md)],
    },
    spec: {
      // A failed worker fails its pod, and the controller recreates the whole group.
      restartPolicy: "Never",
      hostname: podName(name, ctx.replica, stage),
      subdomain: headlessServiceName(name),
      enableServiceLinks: false,
      ...(ctx.podGroupScheduler ? { schedulerName: ctx.podGroupScheduler } : {}),
      ...(spec.gpu.nodeSelector ? { nodeSelector: spec.gpu.nodeSelector } : {}),
      tolerations: tolerations(spec),
      affinity: {
        // The controller picked the domain when it admitted the group: every
        // pod of the group requires it, so they can only bind together there.
        // No required pod affinity on top: it says the same, and "inter-pod
        // affinity and anti-affinity require substantial amounts of processing
        // which can slow down scheduling in large clusters significantly"
        // (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/).
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: domainTerms(spec.topologyKey, ctx.domain, ctx.domainNodes),
          },
        },
      },
      containers: [
        {
          name: "worker",
          image: spec.images.worker,
          imagePullPolicy: spec.images.pullPolicy,
          // The Strata image's entry point is `strata`; the chart runs its controller and gateway the same way.
          command: [...WORKER_COMMAND],
          env,
          ports: [
            { name: "http", containerPort: WORKER_PORTS.http },
            { name: "tunnel", containerPort: WORKER_PORTS.tunnel },
          ],
          resources: { requests, limits },
          // The worker's last line (a bad variable, a missing model) becomes the
          // termination message the controller puts into the status.
          terminationMessagePolicy: "FallbackToLogsOnError",
          // /readyz: llama.cpp answers and its tunnels are up; vLLM, every stage is linked and the
          // head's 1-token canary came back (a lost rank leaves vLLM's own /health at 200).
          readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5 },
          // A worker whose engine failed for good answers 503 here; the pod then
          // fails (restartPolicy Never) and the controller recreates the group.
          livenessProbe: {
            httpGet: { path: "/healthz", port: "http" },
            periodSeconds: 10,
            failureThreshold: 3,
          },
          volumeMounts: mounts,
        },
      ],
      volumes,
    },
  };
}

function tolerations(spec: ModelDeploymentSpec): V1Toleration[] {
  const own = (spec.gpu.tolerations ?? []).map((t) => ({ ...t }));
  // GPU node pools are commonly tainted with the GPU resource name.
  const gpuTaint = { key: spec.gpu.resourceName, operator: "Exists", effect: "NoSchedule" };
  return own.some((t) => t.key === gpuTaint.key) ? own : [...own, gpuTaint];
}

const MODEL_MOUNT = "/models";
/** The worker's command in the Strata image (deploy/images/Dockerfile). */
export const WORKER_COMMAND = ["strata", "worker"] as const;

function modelPath(spec: ModelDeploymentSpec): string {
  const src = spec.model.source;
  if (src.uri) return src.uri;
  if (src.pvc) return `${MODEL_MOUNT}/${src.pvc.path}`.replace(/\/+$/, "");
  return hostModelMount(src.hostPath ?? "");
}

/**
 * Where a hostPath model appears in the pod: under MODEL_MOUNT at its path on
 * the node, so the worker's one line about a missing model names the node's
 * path (`/models/srv/models/llama.gguf` for `/srv/models/llama.gguf`).
 */
function hostModelMount(hostPath: string): string {
  return `${MODEL_MOUNT}${hostPath}`.replace(/\/+$/, "");
}

/**
 * The node folder a hostPath model is mounted through: the folder that holds
 * it, so a model missing on the node stays missing. Mounted itself, a missing
 * path would be made an empty folder on the node by the container runtime
 * (containerd creates a bind mount's missing source as a directory), standing
 * where the model file belongs. A model directly under `/` is mounted itself:
 * the node's root is never mounted.
 */
export function hostModelFolder(hostPath: string): string {
  const path = hostPath.replace(/\/+$/, "");
  const parent = posix.dirname(path);
  return parent === "/" ? path : parent;
}

/**
 * vLLM's settings in the worker contract: the device from the GPU catalog, the
 * GPU memory share the planner assumed (so the engine's KV cache is the
 * plan's), and the step timeout.
 */
function vllmSettings(spec: ModelDeploymentSpec): Partial<VllmWorkerSettings> {
  let device: VllmWorkerSettings["device"] = "gpu";
  try {
    device = findGpu(spec.gpu.type).kind;
  } catch {
    // Not in the catalog: a GPU the planner has no figures for.
  }
  return {
    device,
    ...(device === "gpu" ? { gpuMemoryUtilization: DEFAULT_GPU_MEMORY_UTILIZATION } : {}),
    stepTimeoutSeconds: DEFAULT_VLLM_STEP_TIMEOUT_SECONDS,
  };
}

/**
 * /dev/shm per vLLM GPU. vLLM's processes on a node talk through shared memory
 * (the engine core's message queue to its workers, NCCL's intra-node buffers,
 * the CPU backend's collectives), and a pod's default 64Mi runs out; the
 * LeaderWorkerSet vLLM example mounts 15Gi for 8 GPUs
 * (kubernetes-sigs/lws docs/examples/vllm/GPU/lws.yaml), about 2Gi per GPU.
 */
const VLLM_SHM_GIB_PER_GPU = 2;

/** The shm size: the spec's, else for vLLM 2Gi per GPU of the pod (at least 2Gi). */
export function sharedMemorySize(spec: ModelDeploymentSpec, gpusPerPod: number): string | undefined {
  if (spec.resources?.sharedMemory) return spec.resources.sharedMemory;
  if (spec.engine !== "vllm") return undefined;
  return `${VLLM_SHM_GIB_PER_GPU * Math.max(1, gpusPerPod)}Gi`;
}

function modelVolumes(
  spec: ModelDeploymentSpec,
  gpusPerPod: number,
): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const src = spec.model.source;
  const size = sharedMemorySize(spec, gpusPerPod);
  const shm: V1Volume = {
    name: "dshm",
    emptyDir: { medium: "Memory", ...(size ? { sizeLimit: size } : {}) },
  };
  const volumes: V1Volume[] = [shm];
  const mounts: V1VolumeMount[] = [{ name: "dshm", mountPath: "/dev/shm" }];
  if (src.pvc) {
    volumes.push({ name: "model", persistentVolumeClaim: { claimName: src.pvc.claimName, readOnly: true } });
    mounts.push({ name: "model", mountPath: MODEL_MOUNT, readOnly: true });
  } else if (src.hostPath) {
    const folder = hostModelFolder(src.hostPath);
    volumes.push({ name: "model", hostPath: { path: folder, type: "" } });
    mounts.push({ name: "model", mountPath: hostModelMount(folder), readOnly: true });
  }
  return { volumes, mounts };
}

const RPC_CACHE_MOUNT = "/var/cache/strata/rpc";

/**
 * A llama.cpp stage's tensor cache (engine/rpc-cache.ts in the worker): on
 * unless the deployment turns it off, for remote stages that can read the
 * model file (a hostPath or pvc source, mounted in every pod). One folder per
 * stage pod: an emptyDir, or a node folder of its own under `hostPath`.
 */
function rpcCache(md: ModelDeployment, replica: number, stage: number, multiStage: boolean) {
  const { spec } = md;
  const options = spec.rpcCache;
  const readable = spec.model.source.pvc !== undefined || spec.model.source.hostPath !== undefined;
  if (spec.engine !== "llamacpp" || !multiStage || stage === 0 || !readable || options?.enabled === false) {
    return undefined;
  }
  const name = "rpc-cache";
  const volume: V1Volume = options?.hostPath
    ? {
        name,
        hostPath: {
          path: `${options.hostPath.replace(/\/+$/, "")}/${md.metadata.namespace}/${md.metadata.name}/replica-${replica}/stage-${stage}`,
          type: "DirectoryOrCreate",
        },
      }
    : { name, emptyDir: options?.sizeLimit ? { sizeLimit: options.sizeLimit } : {} };
  return {
    volume,
    mount: { name, mountPath: RPC_CACHE_MOUNT } satisfies V1VolumeMount,
    contract: {
      rpcCacheDir: RPC_CACHE_MOUNT,
      ...(options?.sizeLimit
        ? { rpcCacheMaxBytes: quantityBytes(options.sizeLimit, "spec.rpcCache.sizeLimit") }
        : {}),
    },
  };
}

/**
 * The most nodes a pod names (a rack's worth and more). Naming them lets the
 * scheduler filter only those nodes instead of every node in the cluster: its
 * NodeAffinity plugin turns required `metadata.name In` fields into the
 * candidate set (PreFilterResult; kube-scheduler v1.34 nodeaffinity plugin).
 * A larger domain (a zone) goes by its label alone.
 */
export const MAX_DOMAIN_NODE_NAMES = 32;

/**
 * The node selector terms that keep a group's pods in their domain: the
 * domain's label, and where admission knew the domain's nodes, one term per
 * node (terms are ORed, and the API server allows one value per
 * `metadata.name In` field), each still requiring the label.
 */
function domainTerms(topologyKey: string, domain: string, nodes: readonly string[] | undefined) {
  const label = { key: topologyKey, operator: "In", values: [domain] };
  if (!nodes || nodes.length === 0 || nodes.length > MAX_DOMAIN_NODE_NAMES) {
    return [{ matchExpressions: [label] }];
  }
  return [...nodes].sort().map((node) => ({
    matchExpressions: [label],
    matchFields: [{ key: "metadata.name", operator: "In", values: [node] }],
  }));
}

/**
 * The one Service of a deployment, headless: stable DNS names for
 * stage-to-stage traffic (every stage pod's subdomain), and the EndpointSlices
 * the gateway reads to find each group's head (the endpoint of pod
 * `<md>-<replica>-0`, routed to while it is serving). It publishes addresses
 * before pods are ready, as stages must find each other before the pipeline
 * can be. One Service per deployment, not per group: a Service per group, with
 * its Endpoints and EndpointSlice kept by the control plane, was much of the
 * API work of a rollout of 200 groups (the scale benchmark, README "Scale").
 */
export function headlessService(md: ModelDeployment): V1Service {
  const { name, namespace } = md.metadata;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: headlessServiceName(name),
      namespace,
      labels: { [LABELS.deployment]: name, [LABELS.managedBy]: MANAGED_BY_VALUE },
      ownerReferences: [ownerReference(md)],
    },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { [LABELS.deployment]: name },
      ports: [
        { name: "tunnel", port: WORKER_PORTS.tunnel, targetPort: "tunnel" },
        { name: "http", port: WORKER_PORTS.http, targetPort: "http" },
      ],
    },
  };
}
