import { availableParallelism, cpus, totalmem } from "node:os";
import { formatOrtDevices, loadOrt, ortDevices, rowBlendStatus } from "@blvnet/engine-onnx";
import { backendThreads, initBackend, listBackends, shutdownBackend } from "@blvnet/engine-tfjs";
import { VERSION } from "@blvnet/train";
import * as tf from "@tensorflow/tfjs-core";
import type { Command } from "commander";

export function registerEnvCommand(program: Command): void {
  program
    .command("env")
    .description("show the compute backends available here, versions, threads and device")
    .option("--json", "print as JSON")
    .option("--no-probe", "skip running a one-node model on each onnxruntime device (static checks only)")
    .action(async (opts: { json?: boolean; probe: boolean }) => {
      const backends = await listBackends();
      const ort = await ortDevices({ probe: opts.probe });
      const selected = await initBackend(program.opts().backend);
      const info = {
        blvnet: VERSION,
        node: process.version,
        tfjs: tf.version_core,
        selected,
        backends,
        cpu: cpus()[0]?.model ?? "unknown",
        cores: availableParallelism(),
        memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
        threads: backendThreads(),
        ort,
        // how TAM's blends run on the CPU EP: RowBlend custom ops (compiled here) or the plain graph
        tamBlend: await rowBlendStatus(opts.probe ? await loadOrt() : undefined),
        // the Vulkan ICD manifests the loader was pointed at (the bundle's launcher sets them on NVIDIA servers)
        vulkanDriverFiles: (process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES)?.split(":").filter(Boolean) ?? [],
      };
      await shutdownBackend(); // stops wasm pthread workers
      if (opts.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      console.log(`blvnet ${info.blvnet}  node ${info.node}  tfjs ${info.tfjs}`);
      console.log(`device: ${info.cpu} (${info.cores} cores, ${info.memoryGiB} GiB)`);
      console.log("backends (priority order):");
      for (const b of backends) {
        const mark = b.name === selected ? "*" : " ";
        console.log(
          ` ${mark} ${b.name.padEnd(10)} ${b.available ? "available" : "not installed"}  ${b.package}${b.note ? `  (${b.note})` : ""}`,
        );
      }
      console.log("onnxruntime backends (--backend ort | ort-webgpu | ort-cuda):");
      for (const line of formatOrtDevices(ort)) console.log(line);
      const tb = info.tamBlend;
      console.log(
        `TAM blend on the CPU (ort): ${
          !tb.available
            ? `plain ONNX graph (${tb.reason})`
            : tb.block === 0
              ? "plain ONNX graph (no blocked layout found for RowBlend)"
              : `RowBlend custom op${tb.block ? ` on blocked maps of ${tb.block} channels` : ""}`
        }`,
      );
      if (info.vulkanDriverFiles.length) console.log(`vulkan driver manifests: ${info.vulkanDriverFiles.join(", ")}`);
      if (info.threads !== undefined)
        console.log(`threads: ${info.threads}${selected === "wasm" ? " (wasm; set with BLVNET_THREADS)" : ""}`);
    });
}
