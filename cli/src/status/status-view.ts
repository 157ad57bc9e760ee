/**
 * Rendering a cluster snapshot for `strata status`: a table for people, JSON
 * (the snapshot plus each stage's heartbeat age) for scripts.
 */
import { type ClusterSnapshot, formatLayerRange, type StageView } from "@strata/core";

export interface StatusJson extends ClusterSnapshot {
  readonly deployments: Array<
    ClusterSnapshot["deployments"][number] & {
      readonly replicas: Array<
        ClusterSnapshot["deployments"][number]["replicas"][number] & {
          readonly stages: Array<StageView & { readonly heartbeatAgeMs?: number }>;
        }
      >;
    }
  >;
}

/** Adds heartbeatAgeMs, measured on the answering process's clock (the snapshot's atMs). */
export function statusJson(snapshot: ClusterSnapshot): StatusJson {
  return {
    ...snapshot,
    deployments: snapshot.deployments.map((d) => ({
      ...d,
      replicas: d.replicas.map((r) => ({
        ...r,
        stages: r.stages.map((s) => ({
          ...s,
          ...(s.lastHeartbeatAtMs !== undefined && {
            heartbeatAgeMs: Math.max(0, snapshot.atMs - s.lastHeartbeatAtMs),
          }),
        })),
      })),
    })),
  };
}

function layers(s: StageView): string {
  if (!s.layers) return "-";
  return formatLayerRange(s.layers);
}

function load(s: StageView): string {
  if (!s.load) return "-";
  const l = s.load;
  return `${l.requestsRunning} run, ${l.requestsWaiting} wait, kv ${Math.round(l.kvCacheUsage * 100)}%, ${l.tokensPerSecond.toFixed(1)} tok/s`;
}

function age(ms: number | undefined): string {
  if (ms === undefined) return "never";
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s ago` : `${Math.round(ms / 1000)}s ago`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function renderStatus(snapshot: ClusterSnapshot): string {
  const view = statusJson(snapshot);
  if (view.deployments.length === 0) return `no replicas are reporting (source: ${view.source})\n`;
  const rows: string[][] = [
    ["DEPLOYMENT", "REPLICA", "STAGE", "LAYERS", "STATE", "LOAD", "RESTARTS", "HEARTBEAT"],
  ];
  const summary: string[] = [];
  for (const d of view.deployments) {
    for (const r of d.replicas) {
      const ready = r.stages.filter((s) => s.state === "ready" && !s.lost).length;
      summary.push(
        `${d.deployment} replica ${r.replica}: ${r.available ? "available" : "unavailable"} (${ready}/${r.stageCount ?? r.stages.length} stages ready)`,
      );
      for (const s of r.stages) {
        rows.push([
          d.deployment,
          String(r.replica),
          String(s.stage),
          layers(s),
          s.lost ? `${s.state} (lost)` : s.state,
          load(s),
          String(s.load?.engineRestarts ?? 0),
          age(s.heartbeatAgeMs),
        ]);
      }
    }
  }
  return `${summary.join("\n")}\n\n${table(rows)}\n\n(source: ${view.source})\n`;
}
