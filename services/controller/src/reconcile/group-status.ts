import type { GroupStatus } from "@strata/core";
import type { GroupView } from "../groups/observe.js";

/** Gang-retry bookkeeping a group keeps from one status to the next. */
export function carry(prev: GroupStatus | undefined): Partial<GroupStatus> {
  return {
    ...(prev?.attempts ? { attempts: prev.attempts } : {}),
    ...(prev?.retryAfter ? { retryAfter: prev.retryAfter } : {}),
  };
}

/** The topology domain a group was admitted into, read back from its pods' node affinity. */
export function domainOf(view: GroupView): string | undefined {
  for (const pod of view.pods) {
    const terms =
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    const value = terms?.[0]?.matchExpressions?.[0]?.values?.[0];
    if (value !== undefined) return value;
  }
  return undefined;
}

export function withDomain(view: GroupView | undefined): Partial<GroupStatus> {
  const domain = view ? domainOf(view) : undefined;
  return domain !== undefined ? { domain } : {};
}
