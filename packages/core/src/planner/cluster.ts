import { InputError } from "../errors.js";
import { findGpu, type GpuSpec } from "../hardware/gpu-catalog.js";

/** `count` nodes, each with `gpusPerNode` GPUs of one kind. */
export interface NodePool {
  readonly count: number;
  readonly gpusPerNode: number;
  readonly gpu: GpuSpec;
}

/** The machines a plan may use: one or more node pools, possibly of different GPUs. */
export interface Cluster {
  readonly pools: readonly NodePool[];
}

/** One node, named in plans as `node-<index>` in pool order. */
export interface ClusterNode {
  readonly name: string;
  readonly pool: number;
  readonly gpusPerNode: number;
  readonly gpu: GpuSpec;
}

const POOL_SPEC = /^\s*(\d+)\s*x\s*(\d+)\s*x\s*([a-z0-9][a-z0-9-]*)\s*$/i;
/** Guards against typos like `--nodes 100000` that would make the search slow, not useful. */
export const MAX_NODES = 4096;
export const MAX_GPUS_PER_NODE = 64;

/**
 * Parses a pool written `<nodes>x<gpus per node>x<gpu>`, e.g. `2x8xh100-sxm-80g`.
 * @throws InputError(field) for a bad format, zero counts or an unknown GPU
 */
export function parsePool(text: string, field = "--pool"): NodePool {
  const m = POOL_SPEC.exec(text);
  if (!m) {
    throw new InputError(field, `"${text}" is not <nodes>x<gpus per node>x<gpu>, e.g. 2x8xh100-sxm-80g`);
  }
  return makePool(Number(m[1]), Number(m[2]), findGpu(m[3] ?? "", field), field);
}

/**
 * A pool from counts and a GPU.
 * @throws InputError(field) when a count is not a positive integer or too large
 */
export function makePool(count: number, gpusPerNode: number, gpu: GpuSpec, field = "--pool"): NodePool {
  if (!Number.isSafeInteger(count) || count <= 0 || count > MAX_NODES) {
    throw new InputError(field, `node count must be an integer from 1 to ${MAX_NODES}, got ${count}`);
  }
  if (!Number.isSafeInteger(gpusPerNode) || gpusPerNode <= 0 || gpusPerNode > MAX_GPUS_PER_NODE) {
    throw new InputError(
      field,
      `GPUs per node must be an integer from 1 to ${MAX_GPUS_PER_NODE}, got ${gpusPerNode}`,
    );
  }
  return { count, gpusPerNode, gpu };
}

/** Writes a pool back in `--pool` form. */
export function formatPool(pool: NodePool): string {
  return `${pool.count}x${pool.gpusPerNode}x${pool.gpu.name}`;
}

/** Every node of the cluster in pool order. */
export function clusterNodes(cluster: Cluster): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  cluster.pools.forEach((pool, p) => {
    for (let i = 0; i < pool.count; i++) {
      nodes.push({ name: `node-${nodes.length}`, pool: p, gpusPerNode: pool.gpusPerNode, gpu: pool.gpu });
    }
  });
  return nodes;
}

export function totalGpus(cluster: Cluster): number {
  return cluster.pools.reduce((n, p) => n + p.count * p.gpusPerNode, 0);
}

/** `2 × 8 × H100-SXM-80G + 1 × 8 × A100-SXM-80G`, for messages. */
export function describeCluster(cluster: Cluster): string {
  return cluster.pools.map((p) => `${p.count} × ${p.gpusPerNode} × ${p.gpu.label}`).join(" + ");
}
