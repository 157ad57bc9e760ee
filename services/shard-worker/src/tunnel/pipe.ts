import type { EventEmitter } from "node:events";
import type { Socket } from "node:net";

/** Byte counts of one tunnelled connection, for metrics. */
export interface PipeTotals {
  bytesFromSocket: number;
  bytesToSocket: number;
  /** Which side finished first: the local socket, or the gRPC call (the far end). */
  endedBy?: "socket" | "call";
}

/** The part of a tunnel call (GrpcByteStream, either side) the pipe uses. */
export interface ByteCall extends Pick<EventEmitter, "on"> {
  /** Sends the buffers as one message; false asks the writer to wait for `drain`. */
  write(chunks: readonly Buffer[], callback: (error?: Error | null) => void): boolean;
  end(): void;
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
}

/** Bytes queued towards the call before the socket is paused. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/**
 * Joins a TCP socket and a gRPC call in both directions. The engine's
 * protocol is request/response and chatty (a command byte, a size and a
 * payload as separate writes), so latency is what matters:
 * - a chunk from the socket goes out as a gRPC message at once when no message
 *   is in flight; chunks that arrive while one is (it is handed to HTTP/2 when
 *   its callback runs) go out together as the next message, without copying;
 *   this never delays a byte, it only merges what would have waited anyway;
 * - payload bytes from the call are written to the socket as they arrive
 *   (the first piece of an event-loop turn at once, the rest of the turn in one write);
 * - back-pressure pauses the faster side.
 * `onClose` runs once, when either side is gone.
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
  let queued: Buffer[] = [];
  let queuedBytes = 0;
  let inFlight = false;
  let endAfterFlush = false;
  let callFull = false;
  const flush = (error?: Error | null) => {
    if (error) return; // the call's own error event closes the pipe
    if (queued.length === 0) {
      inFlight = false;
      if (endAfterFlush) call.end();
      return;
    }
    const message = queued;
    queued = [];
    queuedBytes = 0;
    inFlight = true;
    callFull = !call.write(message, flush);
    if (!callFull && socket.isPaused()) socket.resume();
  };
  socket.on("data", (chunk: Buffer) => {
    totals.bytesFromSocket += chunk.length;
    onChunk?.(true, chunk.length);
    queued.push(chunk);
    queuedBytes += chunk.length;
    if (!inFlight) flush();
    else if (queuedBytes > MAX_QUEUED_BYTES || callFull) socket.pause();
  });
  call.on("drain", () => {
    callFull = false;
    if (socket.isPaused() && queuedBytes <= MAX_QUEUED_BYTES) socket.resume();
  });
  // Payload arrives in pieces of at most one HTTP/2 DATA frame (16 KiB from
  // node:http2). The first piece of a turn of the event loop is written at
  // once; the ones after it in the same turn are corked and written together
  // (one writev instead of a syscall per frame) when the turn ends.
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  call.on("data", (chunk: Buffer) => {
    totals.bytesToSocket += chunk.length;
    onChunk?.(false, chunk.length);
    const ok = socket.write(chunk);
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    if (!ok) call.pause();
  });
  socket.on("drain", () => call.resume());

  const ended = (side: "socket" | "call") => {
    totals.endedBy ??= side;
  };
  socket.on("end", () => {
    ended("socket");
    if (inFlight) endAfterFlush = true;
    else call.end();
  });
  call.on("end", () => {
    ended("call");
    socket.end();
  });
  socket.on("close", () => {
    if (inFlight) endAfterFlush = true;
    else if (!call.destroyed) call.end();
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
