import type { EventEmitter } from "node:events";
import type { Socket } from "node:net";

/** Byte counts of one tunnelled connection, for metrics. */
export interface PipeTotals {
  bytesFromSocket: number;
  bytesToSocket: number;
  /** Which side finished first: the local socket, or the gRPC call (the far end). */
  endedBy?: "socket" | "call";
}

/** The part of a grpc-js duplex call (client or server side) the pipe uses. */
export interface ByteCall extends Pick<EventEmitter, "on"> {
  write(chunk: Buffer): boolean;
  end(): void;
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
}

/**
 * Joins a TCP socket and a gRPC duplex call in both directions. Every chunk is
 * forwarded the moment it arrives (no coalescing: the engine's protocol is
 * request/response and any delay is added latency); back-pressure pauses the
 * faster side. `onClose` runs once, when either side is gone.
 */
export function pipeSocketAndCall(
  socket: Socket,
  call: ByteCall,
  onClose: (totals: PipeTotals, error?: Error) => void,
  /** Every chunk as it passes, for live metrics; `fromSocket` is true for bytes the local engine wrote. */
  onChunk?: (fromSocket: boolean, bytes: number) => void,
): void {
  const totals: PipeTotals = { bytesFromSocket: 0, bytesToSocket: 0 };
  let closed = false;
  const close = (error?: Error) => {
    if (closed) return;
    closed = true;
    socket.destroy();
    onClose(totals, error);
  };

  socket.setNoDelay(true);
  socket.on("data", (chunk: Buffer) => {
    totals.bytesFromSocket += chunk.length;
    onChunk?.(true, chunk.length);
    if (!call.write(chunk)) socket.pause();
  });
  call.on("drain", () => socket.resume());
  call.on("data", (chunk: Buffer) => {
    totals.bytesToSocket += chunk.length;
    onChunk?.(false, chunk.length);
    if (!socket.write(chunk)) call.pause();
  });
  socket.on("drain", () => call.resume());

  const ended = (side: "socket" | "call") => {
    totals.endedBy ??= side;
  };
  socket.on("end", () => {
    ended("socket");
    call.end();
  });
  call.on("end", () => {
    ended("call");
    socket.end();
  });
  socket.on("close", () => {
    if (!call.destroyed) call.end();
    close();
  });
  socket.on("error", (err) => {
    ended("socket");
    close(err);
  });
  call.on("error", (err: Error) => {
    ended("call");
    close(err);
  });
  call.on("close", () => {
    if (!socket.destroyed) socket.end();
  });
}
