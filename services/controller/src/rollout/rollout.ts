/**
 * Rolling-update arithmetic over groups. A group is all pods of one replica
 * index; replacing a group means deleting its pods, after which the normal
 * create path brings it back at the target revision. Surge groups take the
 * indices just past `replicas` and are released when the rollout is done.
 */

export interface GroupSnapshot {
  readonly index: number;
  /** Revision of its pods; undefined when they disagree or there are none. */
  readonly revision: string | undefined;
  /** Every pod present, bound, ready and none terminating. */
  readonly available: boolean;
  /** The group has pods. */
  readonly exists: boolean;
}

export interface RolloutInput {
  readonly replicas: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly targetRevision: string;
  readonly groups: readonly GroupSnapshot[];
}

export interface RolloutDecision {
  /** Groups wanted in all: replicas plus surge groups. Indices at or past this are deleted. */
  readonly desiredGroups: number;
  /** Indices below `replicas` whose out-of-date groups are deleted now, to come back at the target revision. */
  readonly replace: readonly number[];
  /** Whether old-revision groups remain below `replicas`. */
  readonly rolling: boolean;
}

export function planRollout(input: RolloutInput): RolloutDecision {
  const { replicas, maxSurge, maxUnavailable, targetRevision } = input;
  const byIndex = new Map(input.groups.map((g) => [g.index, g]));
  const isOld = (g: GroupSnapshot | undefined) => !!g?.exists && g.revision !== targetRevision;
  const old = [...byIndex.values()]
    .filter((g) => g.index < replicas && isOld(g))
    .sort((a, b) => b.index - a.index);
  const existingSurge = [...byIndex.values()].filter((g) => g.index >= replicas && g.exists).length;
  const allUpdatedAndAvailable = range(replicas).every((i) => {
    const g = byIndex.get(i);
    return !!g && g.available && g.revision === targetRevision;
  });

  let surge: number;
  if (old.length > 0) {
    // Case 1: old groups remain below `replicas`: run up to maxSurge extra groups at the new revision.
    surge = Math.min(maxSurge, replicas);
  } else if (!allUpdatedAndAvailable) {
    // Case 2: every group is updated but some are not yet available: keep the surge groups that exist.
    surge = Math.min(existingSurge, maxSurge, replicas);
  } else {
    // Case 3: rollout done (or none in progress): no surge groups.
    surge = 0;
  }
  const desiredGroups = replicas + surge;

  // Availability counts every group that will stay, surge groups included.
  const available = [...byIndex.values()].filter((g) => g.index < desiredGroups && g.available).length;
  const minAvailable = Math.max(0, replicas - maxUnavailable);
  let budget = Math.max(0, available - minAvailable);
  const replace: number[] = [];
  for (const g of old) {
    if (!g.available) {
      // Case 4: an old group that is not available costs nothing to replace.
      replace.push(g.index);
    } else if (budget > 0) {
      // Case 5: an available old group goes only while availability stays at replicas - maxUnavailable.
      replace.push(g.index);
      budget -= 1;
    }
    // Case 6: otherwise it waits for an updated group to become available.
  }
  return { desiredGroups, replace: replace.sort((a, b) => a - b), rolling: old.length > 0 };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
