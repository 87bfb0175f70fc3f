/**
 * The `blvnet` command line. Each subcommand lives in `commands/<name>.ts` and registers itself
 * through `commands/index.ts`; errors caused by user input (UserError) print one line and exit 2.
 */

import { UserError } from "@blvnet/core";
import { isOrtBackend, ORT_BACKENDS } from "@blvnet/engine-onnx";
import { BACKEND_PRIORITY, checkBackend, requestedBackend } from "@blvnet/engine-tfjs";
import { VERSION } from "@blvnet/train";
import { Command, CommanderError } from "commander";
import { registerCommands } from "./commands/index.js";
import { setInvocation } from "./flags/invocation.js";
import { FlagError } from "./flags/parsers.js";

export function buildProgram(): Command {
  const program = new Command("blvnet")
    .description("Reproduce and benchmark bLVNet-TAM (NeurIPS 2019) and its baselines (TSN, TSM, 3D CNNs)")
    .version(VERSION, "-V, --version")
    .option(
      "--backend <name>",
      "compute backend: tensorflow | wasm | cpu, or ort | ort-webgpu | ort-cuda (onnxruntime: CPU, WebGPU over Vulkan/Metal/D3D12, CUDA) (default: best available; env BLVNET_BACKEND)",
    )
    // Errors are printed by main() as one line with a pointer to the help, never the help itself.
    .configureOutput({ outputError: () => {} })
    .exitOverride()
    .hook("preAction", async () => {
      // Fail fast (exit 2, one line) on an unknown or uninstalled backend, whatever the command.
      const asked = requestedBackend(program.opts().backend);
      if (asked && !isOrtBackend(asked)) {
        // ort backends are checked by the commands that run them (bench speed)
        if (!(BACKEND_PRIORITY as readonly string[]).includes(asked)) {
          throw new UserError(
            `unknown backend "${asked}"; choose one of ${BACKEND_PRIORITY.join(", ")} (tfjs) or ${ORT_BACKENDS.join(", ")} (onnxruntime)`,
          );
        }
        await checkBackend(asked);
      }
    });
  registerCommands(program);
  return program;
}

/** The subcommand words of argv (e.g. "data synth"), skipping the global options. */
function commandPath(program: Command, args: string[]): string {
  const words: string[] = [];
  let cmd: Command | undefined = program;
  for (let i = 0; i < args.length && cmd; i++) {
    const a = args[i]!;
    if (a === "--backend") i++;
    if (a.startsWith("-")) continue;
    cmd = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (cmd) words.push(cmd.name());
  }
  return words.join(" ");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  setInvocation(argv.slice(2));
  const seeHelp = () => `; see \`${["blvnet", commandPath(program, argv.slice(2)), "--help"].filter(Boolean).join(" ")}\``;
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0) return 0;
      if (e.code === "commander.help" || e.code === "commander.executeSubCommandAsync") return e.exitCode;
      console.error(
        `blvnet: ${e.message
          .replace(/^error: /, "")
          .trim()
          .replace(/\s*\n\s*/g, " ")}${seeHelp()}`,
      );
      return 2;
    }
    if (e instanceof UserError) {
      console.error(`blvnet: ${e.message}${e instanceof FlagError ? seeHelp() : ""}`);
      return e.exitCode;
    }
    throw e;
  }
}
