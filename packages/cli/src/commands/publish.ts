import { publish } from "@blvnet/bench";
import type { Command } from "commander";

export function registerPublishCommand(program: Command): void {
  program
    .command("publish")
    .description("validate and merge result rows of run directories (shards), write the results CSV, tables, plots and an HTML report")
    .argument("[run-dirs...]", "run directories holding results.csv (e.g. results/runs/reproduce-quick)", ["results/runs/reproduce-quick"])
    .option("--out <dir>", "output directory", "results/published")
    .option("--reference <dir>", "reference figures (counts.csv, official-h100.csv, published-accuracy.csv)")
    .action((runDirs: string[], opts: { out: string; reference?: string }) => {
      const res = publish({ runDirs, outDir: opts.out, referenceDir: opts.reference });
      console.log(`published ${res.rows.length} rows from ${runDirs.length} run dir(s):`);
      for (const f of res.files) console.log(`  ${f}`);
    });
}
