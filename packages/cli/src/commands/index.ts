import type { Command } from "commander";
import { registerBenchCommand } from "./bench.js";
import { registerBundleCommand } from "./bundle.js";
import { registerCompareCommand } from "./compare.js";
import { registerDataCommand } from "./data.js";
import { registerEnvCommand } from "./env.js";
import { registerEvalCommand } from "./eval.js";
import { registerExportCommand } from "./export.js";
import { registerImportCommand } from "./import.js";
import { registerModelsCommand } from "./models.js";
import { registerProfileCommand } from "./profile.js";
import { registerPublishCommand } from "./publish.js";
import { registerReproduceCommand } from "./reproduce.js";
import { registerTrainCommand } from "./train.js";
import { registerVerifyCommand } from "./verify.js";

/** Every subcommand, in the order `blvnet --help` lists them. Add one line per command. */
export function registerCommands(program: Command): void {
  registerModelsCommand(program);
  registerEnvCommand(program);
  registerReproduceCommand(program);
  registerCompareCommand(program);
  registerPublishCommand(program);
  registerVerifyCommand(program);
  registerImportCommand(program);
  registerProfileCommand(program);
  registerTrainCommand(program);
  registerEvalCommand(program);
  registerExportCommand(program);
  registerBenchCommand(program);
  registerDataCommand(program);
  registerBundleCommand(program);
}
