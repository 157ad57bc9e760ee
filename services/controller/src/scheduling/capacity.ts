import type { V1Node, V1Pod, V1Toleration } from "@kubernetes/client-node";

/**
 * Gang admission: before a group's pods are created, the controller checks
 * that one topology domain (e.g. a rack) has room for all of them, so it
 * never creates pods that could bind only in part and sit on GPUs. Groups
 * already created but not yet bound are counted as placed in their domain.
 * The scheduler has the final word; the gang timeout covers disagreements.
 */

export interface GroupRequest {
  readonly pods: number;
  readonly gpusPerPod: number;
  readonly resourceName: string;
  readonly topologyKey: string;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations?: readonly V1Toleration[];
}

export type Admission =
  | {
      readonly fits: true;
      readonly domain: string;
      /** Where the group's pods were packed, one node per pod. */
      readonly nodes: readonly string[];
      /** Every eligible node of the domain. */
      readonly domainNodes: readonly string[];
    }
  | { readonly fits: false; readonly reason: string };

/**
 * The nodes' side of capacity for one GPU resource: what each node offers,
 * and which nodes a request may use, by domain. Nodes change far less often
 * than groups are admitted, so the controller builds this once per change to
 * the nodes, and each admission counts only the pods (at a thousand nodes,
 * rebuilding it per admission was the largest CPU cost of admission).
 */
export class NodeCapacity {
  /** GPUs each node offers, eligible for a request or not. */
  readonly allocatable = new Map<string, number>();
  private readonly nodes: V1Node[] = [];
  private readonly byLabel = new Map<string, Map<string, string[]>>();
  private readonly domains = new Map<string, Map<string, string[]>>();

  constructor(
    nodes: readonly V1Node[],
    readonly resourceName: string,
  ) {
    for (const node of nodes) {
      const name = node.metadata?.name;
      if (!name) continue;
      const allocatable = Number(node.status?.allocatable?.[resourceName] ?? 0);
      this.allocatable.set(name, Number.isFinite(allocatable) ? allocatable : 0);
      this.nodes.push(node);
    }
  }

  /** Names of the nodes labelled `key=value`; one index per key, built on first use. */
  labelled(key: string, value: string): readonly string[] {
    let index = this.byLabel.get(key);
    if (!index) {
      index = new Map();
      for (const node of this.nodes) {
        const v = node.metadata?.labels?.[key];
        if (v !== undefined) push(index, v, node.metadata?.name ?? "");
      }
      this.byLabel.set(key, index);
    }
    return index.get(value) ?? [];
  }

  /** The nodes a request may use, by domain (the value of its topology key); one answer per request shape. */
  domainsFor(req: GroupRequest): ReadonlyMap<string, readonly string[]> {
    const key = JSON.stringify([req.topologyKey, req.nodeSelector ?? {}, req.tolerations ?? []]);
    let domains = this.domains.get(key);
    if (!domains) {
      domains = new Map();
      for (const node of this.nodes) {
        if (eligibleFor(node, req))
          push(domains, node.metadata?.labels?.[req.topologyKey] ?? "", node.metadata?.name ?? "");
      }
      this.domains.set(key, domains);
    }
    return domains;
  }
}

/** Free GPUs on every node, and the domains they form; updated as groups are admitted. */
export class CapacityModel {
  private readonly free: Map<string, number>;

  constructor(
    private readonly nodes: NodeCapacity,
    pods: readonly V1Pod[],
  ) {
    this.free = new Map(nodes.allocatable);
    const unbound: V1Pod[] = [];
    for (const pod of pods) {
      const phase = pod.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") continue;
      const gpus = podGpus(pod, nodes.resourceName);
      if (gpus === 0) continue;
      const nodeName = pod.spec?.nodeName;
      const free = nodeName ? this.free.get(nodeName) : undefined;
      if (nodeName && free !== undefined) this.free.set(nodeName, free - gpus);
      else if (!nodeName) unbound.push(pod);
    }
    // Pods the controller created but the scheduler has not bound yet hold a place in their domain.
    for (const pod of unbound) this.reservePending(pod);
  }

  /** Finds a domain for the whole group and reserves the GPUs there; tightest fit first. */
  admit(req: GroupRequest): Admission {
    const domains = this.nodes.domainsFor(req);
    if (domains.size === 0) {
      return {
        fits: false,
        reason: `no Ready node with ${req.resourceName}, label ${req.topologyKey} and a matching selector`,
      };
    }
    let best: { domain: string; nodes: string[]; left: number; names: readonly string[] } | undefined;
    for (const [domain, names] of domains) {
      const nodes = pack(names, this.free, req.pods, req.gpusPerPod);
      if (!nodes) continue;
      const left = names.reduce((sum, n) => sum + (this.free.get(n) ?? 0), 0) - req.pods * req.gpusPerPod;
      if (!best || left < best.left || (left === best.left && domain < best.domain))
        best = { domain, nodes, left, names };
    }
    if (!best) {
      const most = Math.max(...[...domains.values()].map((names) => slots(names, this.free, req.gpusPerPod)));
      return {
        fits: false,
        reason:
          `needs ${req.pods} pods × ${req.gpusPerPod} ${req.resourceName} in one ${req.topologyKey}; ` +
          `the roomiest of ${domains.size} domains has room for ${most}`,
      };
    }
    for (const name of best.nodes) this.free.set(name, (this.free.get(name) ?? 0) - req.gpusPerPod);
    return { fits: true, domain: best.domain, nodes: best.nodes, domainNodes: [...best.names] };
  }

  private reservePending(pod: V1Pod): void {
    const gpus = podGpus(pod, this.nodes.resourceName);
    const terms =
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    const expr = terms?.[0]?.matchExpressions?.find((e) => e.operator === "In" && e.values?.length === 1);
    if (!expr?.values?.[0]) return;
    const [name] = pack(this.nodes.labelled(expr.key, expr.values[0]), this.free, 1, gpus) ?? [];
    if (name) this.free.set(name, (this.free.get(name) ?? 0) - gpus);
  }
}

/** Best-fit placement of `count` equal pods on the named nodes; node names, or undefined when they do not fit. */
function pack(
  names: readonly string[],
  free: ReadonlyMap<string, number>,
  count: number,
  gpus: number,
): string[] | undefined {
  const left = new Map(names.map((n) => [n, free.get(n) ?? 0]));
  const placed: string[] = [];
  for (let i = 0; i < count; i++) {
    let pick: string | undefined;
    for (const [name, room] of left) {
      if (room < gpus) continue;
      const current = pick === undefined ? undefined : left.get(pick);
      if (current === undefined || room < current || (room === current && name < (pick ?? ""))) pick = name;
    }
    if (pick === undefined) return undefined;
    left.set(pick, (left.get(pick) ?? 0) - gpus);
    placed.push(pick);
  }
  return placed;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function slots(names: readonly string[], free: ReadonlyMap<string, number>, gpus: number): number {
  return names.reduce((sum, n) => sum + Math.max(0, Math.floor((free.get(n) ?? 0) / gpus)), 0);
}

function podGpus(pod: V1Pod, resourceName: string): number {
  let total = 0;
  for (const c of pod.spec?.containers ?? []) {
    const value = Number(c.resources?.requests?.[resourceName] ?? c.resources?.limits?.[resourceName] ?? 0);
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

function eligibleFor(node: V1Node, req: GroupRequest): boolean {
  const labels = node.metadata?.labels ?? {};
  if (node.spec?.unschedulable) return false;
  if (!(req.topologyKey in labels)) return false;
  if (!(node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")) return false;
  for (const [key, value] of Object.entries(req.nodeSelector ?? {})) if (labels[key] !== value) return false;
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect === "PreferNoSchedule") continue;
    const tolerated = (req.tolerations ?? []).some(
      (t) =>
        (t.key === undefined || t.key === taint.key) &&
        (t.effect === undefined || t.effect === taint.effect) &&
        (t.operator === "Exists" || t.value === taint.value),
    );
    if (!tolerated) return false;
  }
  return true;
}
