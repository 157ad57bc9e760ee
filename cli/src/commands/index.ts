import type { Command } from "commander";

type Register = (program: Command) => void;

/**
 * Every subcommand registers itself from its own module under ./commands, in
 * the CLI reference's order (README.md). Modules load on demand: `strata plan`
 * should not pay for loading the Kubernetes client, gRPC and OpenTelemetry
 * that other commands need (several seconds on a busy 2-core machine).
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Register>]> = [
  ["plan", async () => (await import("./plan.js")).registerPlanCommand],
  ["up", async () => (await import("./up.js")).registerUpCommand],
  ["worker", async () => (await import("./worker.js")).registerWorkerCommand],
  ["status", async () => (await import("./status.js")).registerStatusCommand],
  ["gateway", async () => (await import("./gateway.js")).registerGateway],
  ["controller", async () => (await import("./controller.js")).registerControllerCommand],
  ["model", async () => (await import("./model.js")).registerModelCommand],
  ["setup", async () => (await import("./setup.js")).registerSetupCommand],
  ["bench", async () => (await import("./bench.js")).registerBenchCommand],
];

/**
 * Registers the command named by the first argument only, or every command
 * when there is none or it is not one of ours (so that `strata --help` lists
 * them all and an unknown command is reported against the full list).
 */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const first = args.find((a) => !a.startsWith("-"));
  const chosen = COMMANDS.filter(([name]) => name === first);
  const loads = (chosen.length > 0 ? chosen : COMMANDS).map(([, load]) => load());
  for (const register of await Promise.all(loads)) register(program);
}
