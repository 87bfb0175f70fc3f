import { describeOption } from "@blvnet/core";
import { listModels } from "@blvnet/models";
import type { Command } from "commander";

export function registerModelsCommand(program: Command): void {
  program
    .command("models")
    .description("list the registered models and their options")
    .option("--json", "print as JSON")
    .action((opts: { json?: boolean }) => {
      const models = listModels();
      if (opts.json) {
        console.log(
          JSON.stringify(
            models.map(({ name, description, options }) => ({ name, description, options })),
            null,
            2,
          ),
        );
        return;
      }
      for (const m of models) {
        console.log(`${m.name}  ${m.description}`);
        for (const o of m.options) console.log(`    ${describeOption(o)}`);
      }
    });
}
