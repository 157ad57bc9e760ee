/**
 * Messages a worker process sends its parent over the Node IPC channel (local
 * mode). In a cluster the same facts travel as NATS events instead.
 */
import type { EngineEvent } from "../engine/supervisor.js";

/** Which layers one stage's device holds, as llama.cpp reported them while loading. */
export interface DevicePlacement {
  readonly stage: number;
  readonly device: string;
  readonly layers: readonly number[];
}

export type WorkerMessage =
  | { type: "ready"; role: "stage"; stage: number; tunnelPort: number; enginePort: number; enginePid: number }
  | {
      type: "ready";
      role: "head";
      httpPort: number;
      enginePid: number;
      placement: readonly DevicePlacement[];
    }
  | { type: "engine"; event: EngineEvent }
  | { type: "failed"; message: string; logTail: readonly string[] };
