import { randomBytes } from "node:crypto";
import { freeLoopbackPort } from "@strata/runtime";

export interface LoopbackGroup {
  /** The group's shared secret (the tunnel's bearer token, the vLLM group link's key). */
  readonly token: string;
  /** A free loopback HTTP and tunnel port per stage. */
  readonly ports: readonly { readonly http: number; readonly tunnel: number }[];
  /** Each stage's `127.0.0.1:<tunnel port>`, in stage order. */
  readonly stageAddresses: readonly string[];
}

/** What every local group needs before its workers start: a token and ports per stage. */
export async function loopbackGroup(stages: number): Promise<LoopbackGroup> {
  const token = randomBytes(24).toString("hex");
  const ports = await Promise.all(
    Array.from({ length: stages }, async () => ({
      http: await freeLoopbackPort(),
      tunnel: await freeLoopbackPort(),
    })),
  );
  return { token, ports, stageAddresses: ports.map((p) => `127.0.0.1:${p.tunnel}`) };
}
