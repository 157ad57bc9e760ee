/** Full method path of strata.v1.TunnelService/Open. */
export const TUNNEL_OPEN_PATH = "/strata.v1.TunnelService/Open";

/**
 * HTTP/2 flow-control windows of the tunnel's connections and streams: large,
 * so a tensor upload (weights pushed to a stage) never waits on a
 * WINDOW_UPDATE round trip.
 */
export const TUNNEL_FLOW_CONTROL_WINDOW_BYTES = 64 * 1024 * 1024;
/** The largest DATA frame the tunnel accepts (HTTP/2's default is 16 KiB; fewer frames per tensor). */
export const TUNNEL_MAX_FRAME_BYTES = 1024 * 1024;
/** Keepalive: a PING after this much idle time on a session, and the session is dropped without an answer in time. */
export const TUNNEL_KEEPALIVE_INTERVAL_MS = 30_000;
export const TUNNEL_KEEPALIVE_TIMEOUT_MS = 10_000;

/** node:http2 options shared by the tunnel's client and server sessions. */
export function tunnelHttp2Options() {
  return {
    settings: {
      initialWindowSize: TUNNEL_FLOW_CONTROL_WINDOW_BYTES,
      maxFrameSize: TUNNEL_MAX_FRAME_BYTES,
      enablePush: false,
    },
    // node:http2 resets streams when a session buffers more than this (default 10 MB);
    // a window of 64 MiB in flight is expected here.
    maxSessionMemory: (4 * TUNNEL_FLOW_CONTROL_WINDOW_BYTES) / (1024 * 1024),
  } as const;
}
