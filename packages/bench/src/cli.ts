/**
 * The `blvnet` command line. Each subcommand lives in `commands/<name>.ts` and registers itself
 * through `commands/index.ts`; errors caused by user input (UserError) print one line and exit 2.
 */
import { Command, CommanderError } from "commander";
import { UserError } from "@blvnet/core";
import { registerCommands } from "./commands/index.js";
import { VERSION } from "./version.js";

export function buildProgram(): Command {
  const program = new Command("blvnet")
    .description("Reproduce and benchmark bLVNet-TAM (NeurIPS 2019) and its baselines (TSN, TSM, 3D CNNs)")
    .version(VERSION, "-V, --version")
    .option("--backend <name>", "compute backend: tensorflow | wasm | cpu (default: best available; env BLVNET_BACKEND)")
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === "commander.helpDisplayed" || e.code === "commander.version" ? 0 : e.exitCode === 0 ? 0 : 2;
    if (e instanceof UserError) {
      console.error(`blvnet: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}
