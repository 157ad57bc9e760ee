import { createServer, type Server } from "node:net";

/** Distinct free loopback ports, one per name: all are held open together, then released for the components. */
export async function freePorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
  const servers = await Promise.all(
    names.map(
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = {} as Record<K, number>;
  names.forEach((name, i) => {
    const addr = servers[i]?.address();
    if (addr === null || addr === undefined || typeof addr === "string") throw new Error("no free port");
    ports[name] = addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}
