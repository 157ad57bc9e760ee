import type { ServiceDefinition } from "@grpc/grpc-js";
import { decodeDataMessage, encodeDataMessage } from "./codec.js";

/** Full method path of strata.v1.TunnelService/Open. */
export const TUNNEL_OPEN_PATH = "/strata.v1.TunnelService/Open";

/**
 * grpc-js definition of strata.v1.TunnelService with the hand-written codec.
 * Messages are plain Buffers: the payload bytes of `data`.
 */
export const tunnelServiceDefinition: ServiceDefinition = {
  open: {
    path: TUNNEL_OPEN_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: encodeDataMessage,
    requestDeserialize: decodeDataMessage,
    responseSerialize: encodeDataMessage,
    responseDeserialize: decodeDataMessage,
    originalName: "Open",
  },
};

/**
 * Channel and server options tuned for a chatty, latency-bound byte stream:
 * no message-size caps (the engine sends multi-MiB tensors) and large HTTP/2
 * flow-control windows so a tensor upload never waits on WINDOW_UPDATE round
 * trips. grpc-js already sets TCP_NODELAY on client sockets (transport.ts).
 */
export const TUNNEL_FLOW_CONTROL_WINDOW_BYTES = 64 * 1024 * 1024;
export const tunnelChannelOptions = {
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
  "grpc-node.flow_control_window": TUNNEL_FLOW_CONTROL_WINDOW_BYTES,
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
} as const;
