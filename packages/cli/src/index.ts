export { main } from "./cli.js";
export { type CliResult, runCli } from "./run-cli.js";
