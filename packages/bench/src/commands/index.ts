import type { Command } from "commander";
import { registerModelsCommand } from "./models.js";

/** Every subcommand, in the order `blvnet --help` lists them. Add one line per command. */
export function registerCommands(program: Command): void {
  registerModelsCommand(program);
}
