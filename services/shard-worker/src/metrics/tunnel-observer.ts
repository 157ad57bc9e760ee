/**
 * Tunnel metrics through the tunnel's observer hooks (TunnelListenerObserver
 * on the head, TunnelServerObserver on a stage): open streams, bytes per
 * direction, and on the dialling side the message latency — from a request's
 * first bytes leaving the head to the first bytes of the reply, i.e. network
 * plus the remote engine's work for that message (llama.cpp RPC is strictly
 * request/response per connection).
 */
import type { WorkerMetrics } from "./worker-metrics.js";

/** Per-connection byte hook: `fromSocket` is true for bytes the local engine wrote. */
export type ChunkHook = (fromSocket: boolean, bytes: number) => void;

export interface TunnelMetricsObserver {
  connectionOpened(): void;
  connectionClosed(): void;
  streamOpened(): void;
  streamClosed(): void;
  rejected(): void;
  /** A fresh hook for one connection. */
  connectionChunks(): ChunkHook;
  /** Bytes moved so far on this stage's tunnel, for per-request span attributes. */
  totals(): { sent: number; received: number };
}

/**
 * `stage`: the remote stage a head's listener dials, or a stage server's own
 * stage. `dialling`: true on the head, where latency is measured.
 */
export function tunnelMetricsObserver(
  metrics: WorkerMetrics,
  stage: number,
  dialling: boolean,
  now: () => number = () => performance.now(),
): TunnelMetricsObserver {
  const labels = { stage: String(stage) };
  const sent = { ...labels, direction: "sent" };
  const received = { ...labels, direction: "received" };
  const totals = { sent: 0, received: 0 };
  return {
    totals: () => ({ ...totals }),
    connectionOpened: () => metrics.tunnelStreams.inc(labels),
    connectionClosed: () => metrics.tunnelStreams.dec(labels),
    streamOpened: () => metrics.tunnelStreams.inc(labels),
    streamClosed: () => metrics.tunnelStreams.dec(labels),
    rejected: () => metrics.tunnelRejected.inc(labels),
    connectionChunks: () => {
      let pendingSince: number | undefined;
      return (fromSocket, bytes) => {
        metrics.tunnelBytes.inc(fromSocket ? sent : received, bytes);
        if (fromSocket) totals.sent += bytes;
        else totals.received += bytes;
        if (!dialling) return;
        if (fromSocket) pendingSince ??= now();
        else if (pendingSince !== undefined) {
          metrics.tunnelMessageLatency.observe(labels, (now() - pendingSince) / 1000);
          pendingSince = undefined;
        }
      };
    },
  };
}
