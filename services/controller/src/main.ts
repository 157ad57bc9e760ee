#!/usr/bin/env node
// Runs the controller from flags: `node services/controller/dist/main.js --help`.
import { runControllerCli } from "./cli.js";

await runControllerCli(process.argv.slice(2));
