import type { Command } from "commander";
import { registerBenchCapacity } from "./bench-capacity.js";
import { registerBenchLoad } from "./bench-load.js";
import { registerBenchLoadTime } from "./bench-load-time.js";
import { registerBenchTransport } from "./bench-transport.js";

/**
 * `strata bench`: benchmarks that print figures. Each subcommand lives in its own
 * module and registers itself in this list.
 */
const BENCH_SUBCOMMANDS: ReadonlyArray<(bench: Command) => void> = [
  registerBenchCapacity,
  registerBenchLoad,
  registerBenchLoadTime,
  registerBenchTransport,
];

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command("bench")
    .description("Benchmarks: capacity planning, load, load time, transport");
  for (const register of BENCH_SUBCOMMANDS) register(bench);
}
