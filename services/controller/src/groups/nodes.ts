import type { V1Node } from "@kubernetes/client-node";
import type { GroupView } from "./observe.js";

/** A group member's node stopped being Ready. */
export type LostNode =
  /** NotReady for longer than the grace period: recreate the group; `pods` go without a grace period. */
  | { readonly kind: "lost"; readonly message: string; readonly pods: ReadonlySet<string> }
  /** NotReady, within the grace period: look again at `retryAtMs`. */
  | { readonly kind: "grace"; readonly retryAtMs: number };

/**
 * Whether a pod of the group sits on a node that is not Ready (Ready False or
 * Unknown, or the node is gone). The grace period counts from the Ready
 * condition's last transition; it is the controller's own, well under the
 * 300 s after which the node lifecycle controller would evict the pods itself.
 */
export function lostNode(
  view: GroupView,
  node: (name: string) => V1Node | undefined,
  nowMs: number,
  graceMs: number,
): LostNode | undefined {
  let soonest: number | undefined;
  const pods = new Set<string>();
  const nodes = new Set<string>();
  for (const pod of view.pods) {
    const name = pod.spec?.nodeName;
    if (!name || pod.metadata?.deletionTimestamp) continue;
    const n = node(name);
    const ready = n?.status?.conditions?.find((c) => c.type === "Ready");
    if (n && ready?.status === "True") continue;
    // A node gone from the API is lost at once.
    const since = n ? (toMs(ready?.lastTransitionTime) ?? nowMs) : Number.NEGATIVE_INFINITY;
    if (nowMs - since >= graceMs) {
      pods.add(pod.metadata?.name ?? "");
      nodes.add(name);
    } else {
      soonest = Math.min(soonest ?? Number.POSITIVE_INFINITY, since + graceMs);
    }
  }
  if (pods.size > 0) {
    return {
      kind: "lost",
      pods,
      message: `node ${[...nodes].join(", ")} not Ready for more than ${Math.round(graceMs / 1000)} s (the controller's grace period)`,
    };
  }
  return soonest === undefined ? undefined : { kind: "grace", retryAtMs: soonest };
}

function toMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}
