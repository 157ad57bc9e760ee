import { Command, CommanderError } from "commander";
import { registerCommands } from "./commands/index.js";
import { reportFatal } from "./report.js";

const program = new Command("strata")
  .description("Plan, run and serve frontier-size open models sharded across GPUs")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .allowExcessArguments(false);
registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err: unknown) {
  if (err instanceof CommanderError) {
    // Commander already printed the message (or help/version output).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportFatal(err);
  }
}
