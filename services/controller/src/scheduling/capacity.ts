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

interface NodeRoom {
  readonly node: V1Node;
  readonly name: string;
  free: number;
}

/** Free GPUs on every node, and the domains they form; updated as groups are admitted. */
export class CapacityModel {
  private readonly rooms = new Map<string, NodeRoom>();
  /** Rooms by label key, then label value: built once per key a pending pod names (see reservePending). */
  private readonly byLabel = new Map<string, Map<string, NodeRoom[]>>();

  constructor(nodes: readonly V1Node[], pods: readonly V1Pod[], resourceName: string) {
    for (const node of nodes) {
      const name = node.metadata?.name;
      if (!name) continue;
      const allocatable = Number(node.status?.allocatable?.[resourceName] ?? 0);
      this.rooms.set(name, { node, name, free: Number.isFinite(allocatable) ? allocatable : 0 });
    }
    const unbound: V1Pod[] = [];
    for (const pod of pods) {
      const phase = pod.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") continue;
      const gpus = podGpus(pod, resourceName);
      if (gpus === 0) continue;
      const room = pod.spec?.nodeName ? this.rooms.get(pod.spec.nodeName) : undefined;
      if (room) room.free -= gpus;
      else if (!pod.spec?.nodeName) unbound.push(pod);
    }
    // Pods the controller created but the scheduler has not bound yet hold a place in their domain.
    for (const pod of unbound) this.reservePending(pod, resourceName);
  }

  /** Finds a domain for the whole group and reserves the GPUs there; tightest fit first. */
  admit(req: GroupRequest): Admission {
    const eligible = [...this.rooms.values()].filter((r) => eligibleFor(r.node, req));
    if (eligible.length === 0) {
      return {
        fits: false,
        reason: `no Ready node with ${req.resourceName}, label ${req.topologyKey} and a matching selector`,
      };
    }
    const domains = new Map<string, NodeRoom[]>();
    for (const room of eligible) {
      const domain = room.node.metadata?.labels?.[req.topologyKey] ?? "";
      const list = domains.get(domain);
      if (list) list.push(room);
      else domains.set(domain, [room]);
    }
    let best: { domain: string; nodes: string[]; left: number; rooms: NodeRoom[] } | undefined;
    for (const [domain, rooms] of domains) {
      const nodes = pack(rooms, req.pods, req.gpusPerPod);
      if (!nodes) continue;
      const left = rooms.reduce((sum, r) => sum + r.free, 0) - req.pods * req.gpusPerPod;
      if (!best || left < best.left || (left === best.left && domain < best.domain))
        best = { domain, nodes, left, rooms };
    }
    if (!best) {
      const most = Math.max(...[...domains.values()].map((rooms) => slots(rooms, req.gpusPerPod)));
      return {
        fits: false,
        reason:
          `needs ${req.pods} pods × ${req.gpusPerPod} ${req.resourceName} in one ${req.topologyKey}; ` +
          `the roomiest of ${domains.size} domains has room for ${most}`,
      };
    }
    for (const name of best.nodes) {
      const room = this.rooms.get(name);
      if (room) room.free -= req.gpusPerPod;
    }
    return {
      fits: true,
      domain: best.domain,
      nodes: best.nodes,
      domainNodes: best.rooms.map((r) => r.name),
    };
  }

  private reservePending(pod: V1Pod, resourceName: string): void {
    const gpus = podGpus(pod, resourceName);
    const terms =
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    const expr = terms?.[0]?.matchExpressions?.find((e) => e.operator === "In" && e.values?.length === 1);
    if (!expr?.values?.[0]) return;
    const rooms = this.roomsLabelled(expr.key).get(expr.values[0]) ?? [];
    const nodes = pack(rooms, 1, gpus);
    const room = nodes?.[0] ? this.rooms.get(nodes[0]) : undefined;
    if (room) room.free -= gpus;
  }

  // At a thousand nodes and hundreds of pending pods, a scan of every node per
  // pending pod made building the model the largest CPU cost of admission.
  private roomsLabelled(key: string): Map<string, NodeRoom[]> {
    let index = this.byLabel.get(key);
    if (!index) {
      index = new Map();
      for (const room of this.rooms.values()) {
        const value = room.node.metadata?.labels?.[key];
        if (value === undefined) continue;
        const list = index.get(value);
        if (list) list.push(room);
        else index.set(value, [room]);
      }
      this.byLabel.set(key, index);
    }
    return index;
  }
}

/** Best-fit placement of `count` equal pods on the rooms; node names, or undefined when they do not fit. */
function pack(rooms: readonly NodeRoom[], count: number, gpus: number): string[] | undefined {
  const free = new Map(rooms.map((r) => [r.name, r.free]));
  const placed: string[] = [];
  for (let i = 0; i < count; i++) {
    let pick: string | undefined;
    for (const [name, left] of free) {
      if (left < gpus) continue;
      const current = pick === undefined ? undefined : free.get(pick);
      if (current === undefined || left < current || (left === current && name < (pick ?? ""))) pick = name;
    }
    if (pick === undefined) return undefined;
    free.set(pick, (free.get(pick) ?? 0) - gpus);
    placed.push(pick);
  }
  return placed;
}

function slots(rooms: readonly NodeRoom[], gpus: number): number {
  return rooms.reduce((sum, r) => sum + Math.max(0, Math.floor(r.free / gpus)), 0);
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
