import type { Command } from "commander";
import { makeBundle } from "../bundle/bundle.js";

export function registerBundleCommand(program: Command): void {
  program
    .command("bundle")
    .description("write one relocatable .tar.xz (Node + CLI + onnxruntime) that runs on a Linux x64 machine without Node or npm")
    .requiredOption("--out <file>", "archive to write (FILE.tar.xz)")
    .option("--with-vulkan-loader", "ship libvulkan.so.1 (Debian libvulkan1) and libGLdispatch.so.0 (libglvnd0) for servers without them")
    .option("--with-sharp", "ship sharp + libvips (decoding JPEG-folder datasets); default: a stub")
    .option("--xz-threads <n>", "xz threads (1 = smallest archive, 0 = all cores)", "1")
    .addHelpText("after", "\nUnpack anywhere and run ./blvnet-<version>-linux-x64/blvnet env")
    .action(async (opts: { out: string; withVulkanLoader?: boolean; withSharp?: boolean; xzThreads: string }) => {
      const r = await makeBundle({
        out: opts.out,
        withVulkanLoader: opts.withVulkanLoader,
        withSharp: opts.withSharp,
        xzThreads: Number(opts.xzThreads),
        log: (l) => console.error(l),
      });
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      console.log(
        `${r.out}: ${mib(r.bytes)} MiB (${r.topDir}/; uncompressed ${Object.entries(r.parts)
          .map(([k, v]) => `${k} ${mib(v)}`)
          .join(", ")} MiB)`,
      );
      if (r.bytes > 60 * 2 ** 20) {
        console.error(`blvnet bundle: ${mib(r.bytes)} MiB is over the 60 MiB budget`);
        process.exitCode = 1;
      }
    });
}
