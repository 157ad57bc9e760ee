import { Command, CommanderError } from "commander";
import { registerCommands } from "./commands/index.js";
import { reportFatal } from "./report.js";

const program = new Command("strata")
  .description("Plan, run and serve frontier-size open models sharded across GPUs")
  .version("0.1.0")
  .exitOverride()
  .allowExcessArguments(false);
await registerCommands(program, process.argv.slice(2));

// `strata plan | head` closes our stdout early; that is the reader's choice, not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

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
