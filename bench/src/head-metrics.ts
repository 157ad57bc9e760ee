/**
 * Figures read from a head worker's Prometheus endpoint: the tunnel's byte
 * counters and its message-latency histogram, whose count is the number of
 * request/response round trips the head made to a stage (one observation per
 * request whose reply started; metrics/tunnel-observer.ts in the worker).
 */

export interface HeadTunnelFigures {
  /** Bytes the head sent into each stage's tunnel, by stage. */
  readonly bytesSent: ReadonlyMap<number, number>;
  /** Bytes each stage's tunnel brought back to the head. */
  readonly bytesReceived: ReadonlyMap<number, number>;
  /** Round trips to each stage so far. */
  readonly roundTrips: ReadonlyMap<number, number>;
  /** Seconds the head spent waiting for each stage's replies so far. */
  readonly waitSeconds: ReadonlyMap<number, number>;
}

function sampleValues(
  text: string,
  metric: string,
  labels: Readonly<Record<string, string>>,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labelText = line.slice(metric.length + 1, line.indexOf("}"));
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    const stage = /stage="(\d+)"/.exec(labelText)?.[1];
    if (stage === undefined) continue;
    out.set(Number(stage), Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

export async function headTunnelFigures(headUrl: string): Promise<HeadTunnelFigures> {
  const response = await fetch(`${headUrl}/metrics`);
  if (!response.ok) throw new Error(`${headUrl}/metrics: HTTP ${response.status}`);
  const text = await response.text();
  return {
    bytesSent: sampleValues(text, "strata_tunnel_bytes_total", { direction: "sent" }),
    bytesReceived: sampleValues(text, "strata_tunnel_bytes_total", { direction: "received" }),
    roundTrips: sampleValues(text, "strata_tunnel_message_latency_seconds_count", {}),
    waitSeconds: sampleValues(text, "strata_tunnel_message_latency_seconds_sum", {}),
  };
}

export function total(values: ReadonlyMap<number, number>): number {
  let sum = 0;
  for (const v of values.values()) sum += v;
  return sum;
}
