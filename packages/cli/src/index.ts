export { main } from "./cli.js";
export { runCli, type CliResult } from "./run-cli.js";
