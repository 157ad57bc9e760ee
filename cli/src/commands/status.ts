import { InputError, isDeploymentName } from "@strata/core";
import { connectNats, readLocalEndpoint, resolveNatsUrl, silentLogger } from "@strata/runtime";
import type { Command } from "commander";
import { positiveInt } from "../flags.js";
import { readClusterStatus } from "../status/cluster-status.js";
import { renderStatus, statusJson } from "../status/status-view.js";

interface StatusFlags {
  json?: boolean;
  natsUrl?: string;
  deployment?: string;
  collectMs: number;
}

const connectTimeoutMs = 5_000;

/** `strata status`: replicas, stages, layer ranges, state, load and heartbeat age, read from NATS. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description(
      "Print the running cluster read from NATS: replicas, stages, layer ranges, state, load, last heartbeat age",
    )
    .option("--json", "print the snapshot as JSON")
    .option(
      "--nats-url <url>",
      "NATS server to read (default: $NATS_URL, else the nats-server of a `strata up` on this machine)",
    )
    .option("--deployment <name>", "only this deployment")
    .option(
      "--collect-ms <ms>",
      "when no controller or supervisor answers, listen to heartbeats this long",
      positiveInt,
      3000,
    )
    .addHelpText(
      "after",
      `
How it reads: it sends a request on strata.cluster.status, answered by the
controller (Kubernetes) or the supervisor of \`strata up\` (local mode) from the
cluster state they keep (heartbeats plus lifecycle events from JetStream). When
nobody answers within 2 s, it listens to worker heartbeats (strata.heartbeat.>)
for --collect-ms and shows what it heard (source: heartbeats).`,
    )
    .action(async (flags: StatusFlags) => {
      if (flags.deployment !== undefined && !isDeploymentName(flags.deployment)) {
        throw new InputError("--deployment", `must be a lowercase DNS label, got "${flags.deployment}"`);
      }
      const natsUrl = resolveNatsUrl(flags.natsUrl) ?? (await readLocalEndpoint())?.natsUrl;
      if (natsUrl === undefined) {
        throw new InputError(
          "--nats-url",
          "no NATS server given and no `strata up` running on this machine (pass --nats-url or set NATS_URL)",
        );
      }
      let nc: Awaited<ReturnType<typeof connectNats>>;
      try {
        nc = await connectNats({
          servers: natsUrl,
          name: "strata status",
          logger: silentLogger,
          firstConnectTimeoutMs: connectTimeoutMs,
        });
      } catch (err: unknown) {
        throw new InputError(
          "--nats-url",
          `cannot connect to ${natsUrl}: ${err instanceof Error ? err.message : err}`,
        );
      }
      try {
        const snapshot = await readClusterStatus(nc, {
          collectMs: flags.collectMs,
          ...(flags.deployment === undefined ? {} : { deployment: flags.deployment }),
        });
        process.stdout.write(
          flags.json ? `${JSON.stringify(statusJson(snapshot), null, 2)}\n` : renderStatus(snapshot),
        );
      } finally {
        await nc.close();
      }
    });
}
