import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatResult, formatStages, goldenFilesIn, verifyFiles } from "@blvnet/bench";
import { UserError } from "@blvnet/core";
import { requestedBackend } from "@blvnet/engine-tfjs";
import type { Command } from "commander";

/** fixtures/golden of the current directory, else of the checkout this CLI runs from. */
function defaultGoldenDir(): string {
  const candidates = [resolve("fixtures/golden")];
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    candidates.push(join(dir, "fixtures/golden"));
  }
  const found = candidates.find((d) => existsSync(d));
  if (!found) throw new UserError("no fixtures/golden folder here or above the CLI; pass golden files as arguments");
  return found;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command("verify")
    .description("rebuild the model of each golden file, run it with refgen-v1 weights and compare with the official output")
    .argument("[files...]", "golden files (format video-ref-golden/1); default: every golden in fixtures/golden")
    .option("--stages", "also compare the stored stage tensors and name the first stage that diverges")
    .option(
      "--weights <file>",
      "load the golden's weights from this checkpoint (safetensors or PyTorch .pth, zip or legacy) instead of generating them",
    )
    .option("--allow-missing", "with --weights: weights absent from the checkpoint keep their generated values (a warning lists them)")
    .addHelpText(
      "after",
      "\nPrints `PASS|FAIL name max_rel_err=... tol=...` per file (max|out-golden| / max|golden|); exits 1 if any fails.\n" +
        "Runs on onnxruntime (CPU) unless the global --backend (or BLVNET_BACKEND) names another: ort-webgpu, ort-cuda, wasm, cpu, tensorflow.",
    )
    .action(async (files: string[], opts: { stages?: boolean; weights?: string; allowMissing?: boolean }) => {
      const paths = files.length ? files : goldenFilesIn(defaultGoldenDir());
      if (!paths.length) throw new UserError("no golden files to verify");
      if (opts.allowMissing && !opts.weights) throw new UserError("--allow-missing goes with --weights");
      let done = 0;
      const backend = requestedBackend(program.opts().backend) ?? "ort";
      const results = await verifyFiles(
        paths,
        { stages: opts.stages, backend, weights: opts.weights, allowMissing: opts.allowMissing },
        (r) => {
          done++;
          console.log(formatResult(r));
          if (opts.stages) for (const line of formatStages(r)) console.log(line);
          if (done < paths.length) process.stderr.write(`(${done}/${paths.length} verified)\n`);
        },
      );
      const failed = results.filter((r) => !r.passed).length;
      if (failed) {
        console.log(`${failed} of ${results.length} golden files FAILED`);
        process.exitCode = 1;
      } else console.log(`all ${results.length} golden files pass`);
    });
}
