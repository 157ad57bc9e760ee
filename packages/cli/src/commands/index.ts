import type { Command } from "commander";
import { registerBenchCommand } from "./bench.js";
import { registerControllerCommand } from "./controller.js";
import { registerGateway } from "./gateway.js";
import { registerModelCommand } from "./model.js";
import { registerPlanCommand } from "./plan.js";
import { registerSetupCommand } from "./setup.js";
import { registerStatusCommand } from "./status.js";
import { registerUpCommand } from "./up.js";

/**
 * Every subcommand registers itself here, one module each under ./commands.
 * Keep this list the CLI reference's order in README.md.
 */
export function registerCommands(program: Command): void {
  registerPlanCommand(program);
  registerUpCommand(program);
  registerStatusCommand(program);
  registerGateway(program);
  registerControllerCommand(program);
  registerModelCommand(program);
  registerSetupCommand(program);
  registerBenchCommand(program);
}
