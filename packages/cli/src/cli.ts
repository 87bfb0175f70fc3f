/**
 * The `blvnet` command line. Each subcommand lives in `commands/<name>.ts` and registers itself
 * through `commands/index.ts`; errors caused by user input (UserError) print one line and exit 2.
 */
import { Command, CommanderError } from "commander";
import { BACKEND_PRIORITY, checkBackend, requestedBackend } from "@blvnet/engine-tfjs";
import { isOrtBackend, ORT_BACKENDS } from "@blvnet/engine-onnx";
import { UserError } from "@blvnet/core";
import { registerCommands } from "./commands/index.js";
import { VERSION } from "@blvnet/train";

export function buildProgram(): Command {
  const program = new Command("blvnet")
    .description("Reproduce and benchmark bLVNet-TAM (NeurIPS 2019) and its baselines (TSN, TSM, 3D CNNs)")
    .version(VERSION, "-V, --version")
    .option("--backend <name>", "compute backend: tensorflow | wasm | cpu, or ort | ort-cuda (onnxruntime inference) (default: best available; env BLVNET_BACKEND)")
    .showHelpAfterError()
    .exitOverride()
    .hook("preAction", async () => {
      // Fail fast (exit 2, one line) on an unknown or uninstalled backend, whatever the command.
      const asked = requestedBackend(program.opts().backend);
      if (asked && !isOrtBackend(asked)) {
        // ort backends are checked by the commands that run them (bench speed)
        if (!(BACKEND_PRIORITY as readonly string[]).includes(asked)) {
          throw new UserError(`unknown backend "${asked}"; choose one of ${BACKEND_PRIORITY.join(", ")} (tfjs) or ${ORT_BACKENDS.join(", ")} (onnxruntime)`);
        }
        await checkBackend(asked);
      }
    });
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
