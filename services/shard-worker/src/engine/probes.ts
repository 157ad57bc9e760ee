import { connect } from "node:net";

/** A readiness check: resolves true when the engine answers. Never throws. */
export type ReadinessProbe = () => Promise<boolean>;

const PROBE_TIMEOUT_MS = 1000;

/** Ready when a TCP connection to host:port succeeds (ggml-rpc-server). */
export function tcpProbe(host: string, port: number): ReadinessProbe {
  return () =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
      socket.once("connect", () => done(true));
      socket.once("error", () => done(false));
    });
}

/** Ready when GET `url` answers 200 (llama-server's /health says 503 while loading). */
export function httpProbe(url: string): ReadinessProbe {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false;
    }
  };
}
