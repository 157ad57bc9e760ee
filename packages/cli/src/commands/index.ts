import type { Command } from "commander";

/**
 * Every subcommand registers itself here, one module each under ./commands.
 * Keep this list the CLI reference's order in README.md.
 */
export function registerCommands(program: Command): void {
  void program;
}
